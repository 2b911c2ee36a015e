package ai.tilt.train;

import ai.tilt.doc.Doc;

/**
 * The recipe section of data-parallel training ({@code tilt train --nproc N}, torchrun, SLURM): how
 * long workers wait for each other, how gradients travel, how often their weights are compared. One
 * process ignores it; it may change when a run resumes.
 */
public record Dist(
    @Doc(
            "seconds a worker waits for the others (the rendezvous, a collective, a checkpoint being"
                + " written) before the job fails naming the rank (default 1800)")
        Double timeoutS,
    @Doc("gradients are all-reduced in buckets of this many MB (default 25, as PyTorch's DDP)")
        Double bucketMb,
    @Doc(
            "compare a checksum of the trainable weights across workers every N optimizer steps, and"
                + " fail naming the step and the ranks when they differ (0: only at the start and"
                + " after a resume)")
        Long checkEvery) {

  /** Every key at its default. */
  public static Dist defaults() {
    return new Dist(null, null, null);
  }

  public Dist {
    timeoutS = timeoutS == null ? 1800.0 : timeoutS;
    bucketMb = bucketMb == null ? 25.0 : bucketMb;
    checkEvery = checkEvery == null ? 0L : checkEvery;
    if (!(timeoutS > 0)) {
      throw new IllegalArgumentException("dist.timeout_s must be > 0, got " + timeoutS);
    }
    if (!(bucketMb > 0)) {
      throw new IllegalArgumentException("dist.bucket_mb must be > 0, got " + bucketMb);
    }
    if (checkEvery < 0) {
      throw new IllegalArgumentException("dist.check_every must be >= 0, got " + checkEvery);
    }
  }
}
