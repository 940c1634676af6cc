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

  /** The Kubernetes quantity string: `4Gi` when a whole number of GiB, `512Mi` otherwise. */
  public toQuantity(): string {
    return this.mebibytes % 1024 === 0 ? `${this.mebibytes / 1024}Gi` : `${this.mebibytes}Mi`;
  }

  /** Same as {@link toQuantity}, for messages. */
  public toString(): string {
    return this.toQuantity();
  }
}
