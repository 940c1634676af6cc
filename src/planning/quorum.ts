/** Members that must be up for a replicated store to keep working, and Sentinels to agree: a majority (all of one). */
export function majorityOf(members: number): number {
  return Math.floor(members / 2) + 1;
}
