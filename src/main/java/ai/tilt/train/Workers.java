package ai.tilt.train;

import ai.djl.Device;
import ai.tilt.dist.C10dGroup;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.dist.World;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.Torch;
import java.time.Duration;

/**
 * The workers a run trains on: this process alone, or every worker of a data-parallel job that a
 * launcher started ({@code tilt train --nproc N}, torchrun, SLURM; see {@link World}), joined
 * through c10d on the device this worker computes on: its own GPU ({@code cuda:LOCAL_RANK}, NCCL)
 * or the CPU (Gloo).
 */
public final class Workers {
  private Workers() {}

  /** Joins the job this process's environment describes, with the recipe's dist settings. */
  public static Group join(World world, Recipe recipe) {
    Dist d = recipe.dist();
    return join(
        world,
        Duration.ofMillis((long) (d.timeoutS() * 1000)),
        (long) (d.bucketMb() * 1024 * 1024));
  }

  /** Joins with these settings (benchmarks, which have no recipe). */
  public static Group join(World world, Duration timeout, long bucketBytes) {
    if (!world.distributed()) {
      return Solo.INSTANCE;
    }
    Torch.shareCoresAmong(world.localSize());
    Device device = Devices.current();
    if (device.isGpu()) {
      Devices.use("cuda:" + gpuIndex(world, Torch.init().getGpuCount()));
      device = Devices.current();
    }
    return C10dGroup.join(world, device, timeout, bucketBytes);
  }

  /**
   * The GPU a worker takes: its local rank's, as torchrun's LOCAL_RANK; or the only one it sees,
   * when the scheduler gave each worker its own ({@code CUDA_VISIBLE_DEVICES} of one GPU, as
   * SLURM's {@code --gpus-per-task=1}). More workers than GPUs is refused: NCCL runs one rank per
   * GPU.
   */
  static int gpuIndex(World world, int gpus) {
    if (world.localRank() < gpus) {
      return world.localRank();
    }
    if (gpus == 1) {
      return 0;
    }
    throw new IllegalStateException(
        "rank "
            + world.rank()
            + " is local worker "
            + world.localRank()
            + " of "
            + world.localSize()
            + " on this machine, which has "
            + gpus
            + " GPU(s) visible: NCCL needs one GPU per worker (start --nproc "
            + gpus
            + " or fewer, or set CUDA_VISIBLE_DEVICES)");
  }
}
