/**
 * A small Dockerfile reader for the static checks and the contract test: instructions with line
 * continuations joined and comments dropped, grouped into build stages.
 */

/** One instruction, keyword upper-cased. */
export interface Instruction {
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

/** One `FROM` and the instructions up to the next. */
export interface Stage {
  /** The image or earlier stage it starts from. */
  readonly base: string;
  /** `--platform=...` and other flags of the FROM line. */
  readonly flags: readonly string[];
  /** The `AS` name, if any. */
  readonly name?: string;
  readonly from: Instruction;
  readonly instructions: readonly Instruction[];
}

/** Splits a Dockerfile into instructions. */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      if (next.startsWith('#')) continue;
      joined = `${joined.slice(0, -1).trimEnd()} ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/.exec(joined)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start + 1 });
  }
  return instructions;
}

/** Splits a Dockerfile into its stages (instructions before the first FROM, i.e. ARGs, are dropped). */
export function parseStages(text: string): Stage[] {
  const stages: Array<{ base: string; flags: string[]; name?: string; from: Instruction; instructions: Instruction[] }> = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const rest = words.filter((w) => !w.startsWith('--'));
      const name = rest.length >= 3 && rest[1].toUpperCase() === 'AS' ? rest[2] : undefined;
      stages.push({ base: rest[0], flags, name, from: instruction, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

/** Parses the exec (JSON array) form of ENTRYPOINT/CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed = JSON.parse(args) as unknown;
  return Array.isArray(parsed) && parsed.every((p) => typeof p === 'string') ? parsed : undefined;
}

/** The last instruction of a keyword in a stage. */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  return [...stage.instructions].reverse().find((i) => i.keyword === keyword);
}
