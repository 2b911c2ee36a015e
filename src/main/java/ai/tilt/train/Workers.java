package ai.tilt.train;

import ai.djl.Device;
import ai.tilt.dist.C10dGroup;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.dist.World;
import ai.tilt.runtime.Devices;
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
    Device device = Devices.current();
    if (device.isGpu()) {
      Devices.use("cuda:" + world.localRank()); // one GPU per worker, as torchrun's LOCAL_RANK
      device = Devices.current();
    }
    return C10dGroup.join(world, device, timeout, bucketBytes);
  }
}
