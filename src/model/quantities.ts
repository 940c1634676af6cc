/**
 * An amount of CPU, held in millicores so that scaling and comparison are exact.
 *
 * @see https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#meaning-of-cpu
 */
export class Cpu {
  /** Whole or fractional cores, e.g. `Cpu.cores(1.5)`. */
  public static cores(cores: number): Cpu {
    return new Cpu(Math.round(cores * 1000));
  }

  /** Millicores, e.g. `Cpu.millis(250)`. */
  public static millis(millicores: number): Cpu {
    return new Cpu(Math.round(millicores));
  }

  private constructor(
    /** The amount in millicores. */
    public readonly millicores: number,
  ) {}

  /** True when the amount is a whole number of cores, as the static CPU manager needs to pin them. */
  public get isWholeCores(): boolean {
    return this.millicores % 1000 === 0;
  }

  /** This amount multiplied by `factor`, rounded up to 50 millicores and never below 50m. */
  public scaledBy(factor: number): Cpu {
    return new Cpu(Math.max(50, Math.ceil((this.millicores * factor) / 50) * 50));
  }

  /** The Kubernetes quantity string: `2` for whole cores, `1500m` otherwise. */
  public toQuantity(): string {
    return this.isWholeCores ? String(this.millicores / 1000) : `${this.millicores}m`;
  }

  /** Same as {@link toQuantity}, for messages. */
  public toString(): string {
    return this.toQuantity();
  }
}

/**
 * An amount of memory (or hugepages, or storage), held in mebibytes.
 */
export class Memory {
  /** Mebibytes, e.g. `Memory.mebibytes(512)`. */
  public static mebibytes(mebibytes: number): Memory {
    return new Memory(Math.round(mebibytes));
  }

  /** Gibibytes, e.g. `Memory.gibibytes(4)`. */
  public static gibibytes(gibibytes: number): Memory {
    return new Memory(Math.round(gibibytes * 1024));
  }

  private constructor(
    /** The amount in mebibytes. */
    public readonly mebibytes: number,
  ) {}

  /** This amount multiplied by `factor`, rounded up to 64Mi and never below 64Mi. */
  public scaledBy(factor: number): Memory {
    return new Memory(Math.max(64, Math.ceil((this.mebibytes * factor) / 64) * 64));
  }

  /**
   * The Kubernetes quantity string in the API server's canonical form (the largest binary suffix
   * that keeps the number whole): `2Ti`, `4Gi`, `512Mi`. The server stores quantities that way, so
   * emitting anything else makes every apply report a change.
   */
  public toQuantity(): string {
    if (this.mebibytes !== 0 && this.mebibytes % (1024 * 1024) === 0) return `${this.mebibytes / (1024 * 1024)}Ti`;
    return this.mebibytes % 1024 === 0 ? `${this.mebibytes / 1024}Gi` : `${this.mebibytes}Mi`;
  }

  /** Same as {@link toQuantity}, for messages. */
  public toString(): string {
    return this.toQuantity();
  }
}

/** Decimal SI suffixes, one per power of 1000, as Kubernetes quantities use them. */
const DECIMAL_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/**
 * A dimensionless amount (pods, GPUs, requests per second) as the quantity string the API server
 * stores: `12`, `1500`, `1k` for 1000, `2M`, `500m` for 0.5. The server keeps quantities in this
 * canonical form (the largest suffix that keeps the number whole); a manifest that says `1000` or
 * a bare number is changed back on every apply and never converges.
 *
 * Hand-written because no maintained JavaScript package formats Kubernetes quantities
 * (@kubernetes/client-node only parses them); the rules are those of
 * k8s.io/apimachinery `resource.Quantity.String()` for the DecimalSI format.
 *
 * @throws when the value is negative, not finite, or finer than a thousandth
 */
export function countQuantity(value: number): string {
  const millis = Math.round(value * 1000);
  if (!Number.isFinite(value) || value < 0 || Math.abs(millis - value * 1000) > 1e-6) {
    throw new Error(`countQuantity: ${value} is not a non-negative multiple of 0.001; Kubernetes quantities below a thousandth need another suffix`);
  }
  if (millis % 1000 !== 0) return `${millis}m`;
  let whole = millis / 1000;
  let power = 0;
  while (whole !== 0 && whole % 1000 === 0 && power < DECIMAL_SUFFIXES.length - 1) {
    whole /= 1000;
    power += 1;
  }
  return `${whole}${DECIMAL_SUFFIXES[power]}`;
}
