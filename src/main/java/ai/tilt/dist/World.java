package ai.tilt.dist;

import java.util.Map;

/**
 * Which process of which job this is: its rank among {@code size} workers, its local rank on its
 * machine (which GPU it takes, how many CPU threads it gets), and where the rendezvous store is.
 * Read once from the environment a launcher sets, in this order:
 *
 * <ul>
 *   <li>torchrun's variables ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code
 *       LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}), which {@code tilt train
 *       --nproc N} and a Kubernetes PyTorchJob set too. Under torchrun's agent store ({@code
 *       TORCHELASTIC_USE_AGENT_STORE=True}) the agent serves the store and every rank is its client
 *       under the prefix {@code /worker/attempt_N}, as torch's own {@code _create_c10d_store};
 *       otherwise rank 0 serves it.
 *   <li>SLURM's, inside an {@code srun} step of more than one task: {@code SLURM_PROCID}, {@code
 *       SLURM_STEP_NUM_TASKS}, {@code SLURM_LOCALID}, {@code SLURM_STEP_TASKS_PER_NODE} at {@code
 *       SLURM_NODEID} (the batch script itself, outside any step, is one process whatever its
 *       {@code SLURM_NTASKS}); {@code MASTER_ADDR} must be exported by the batch script (the first
 *       node's name), the port defaults to one derived from {@code SLURM_JOB_ID}.
 *   <li>Otherwise one process alone.
 * </ul>
 *
 * @param launcher what started the job, for messages: torchrun, slurm, or single
 */
public record World(
    int rank,
    int size,
    int localRank,
    int localSize,
    String masterAddr,
    int masterPort,
    boolean storeServer,
    String storePrefix,
    String launcher) {

  public World {
    if (size < 1 || rank < 0 || rank >= size || localRank < 0 || localSize < 1) {
      throw new DistException(
          "inconsistent world: rank "
              + rank
              + " of "
              + size
              + ", local rank "
              + localRank
              + " of "
              + localSize
              + " ("
              + launcher
              + ")");
    }
  }

  /** One process, no rendezvous. */
  public static World single() {
    return new World(0, 1, 0, 1, null, 0, true, "", "single");
  }

  /** Whether this process is one worker of a job that trains data-parallel (even of one). */
  public boolean distributed() {
    return !launcher.equals("single");
  }

  /** The world this process's environment describes. */
  public static World fromEnvironment() {
    return of(System.getenv());
  }

  /** The world an environment describes (see the class comment for the order). */
  static World of(Map<String, String> env) {
    if (env.containsKey("RANK") && env.containsKey("WORLD_SIZE")) {
      int rank = integer(env, "RANK");
      int size = integer(env, "WORLD_SIZE");
      int localRank = env.containsKey("LOCAL_RANK") ? integer(env, "LOCAL_RANK") : 0;
      int localSize = env.containsKey("LOCAL_WORLD_SIZE") ? integer(env, "LOCAL_WORLD_SIZE") : 1;
      String addr = required(env, "MASTER_ADDR", "torchrun's RANK and WORLD_SIZE are set");
      int port = integer(env, "MASTER_PORT");
      boolean agent = "True".equalsIgnoreCase(env.getOrDefault("TORCHELASTIC_USE_AGENT_STORE", ""));
      String prefix =
          agent ? "/worker/attempt_" + env.getOrDefault("TORCHELASTIC_RESTART_COUNT", "0") : "";
      String launcher =
          env.containsKey("TILT_LAUNCHER")
              ? env.get("TILT_LAUNCHER")
              : env.containsKey("TORCHELASTIC_RUN_ID") ? "torchrun" : "env";
      return new World(
          rank, size, localRank, localSize, addr, port, !agent && rank == 0, prefix, launcher);
    }
    // an srun step of several tasks; the batch script itself (SLURM_NTASKS set, no step) is one
    if (env.containsKey("SLURM_PROCID") && integerOr(env, "SLURM_STEP_NUM_TASKS", 1) > 1) {
      int rank = integer(env, "SLURM_PROCID");
      int size = integer(env, "SLURM_STEP_NUM_TASKS");
      int localRank = integerOr(env, "SLURM_LOCALID", 0);
      String perNode =
          env.getOrDefault(
              "SLURM_STEP_TASKS_PER_NODE", env.getOrDefault("SLURM_NTASKS_PER_NODE", "1"));
      int localSize = tasksOnNode(perNode, integerOr(env, "SLURM_NODEID", 0));
      String addr =
          required(
              env,
              "MASTER_ADDR",
              "a SLURM step of "
                  + size
                  + " tasks: export MASTER_ADDR=$(scontrol show hostnames $SLURM_JOB_NODELIST |"
                  + " head -1) in the batch script");
      int port =
          env.containsKey("MASTER_PORT")
              ? integer(env, "MASTER_PORT")
              : 15000 + (int) (Long.parseLong(env.getOrDefault("SLURM_JOB_ID", "0")) % 20000);
      return new World(rank, size, localRank, localSize, addr, port, rank == 0, "", "slurm");
    }
    return single();
  }

  /**
   * The tasks on node {@code node} of SLURM's compressed list: {@code "8(x2),4"} is 8, 8, 4 (a node
   * past its end takes the last count).
   */
  static int tasksOnNode(String list, int node) {
    int seen = 0;
    int last = 1;
    for (String part : list.split(",")) {
      String p = part.trim();
      int times = 1;
      int paren = p.indexOf('(');
      try {
        if (paren >= 0) {
          if (!p.startsWith("(x", paren) || !p.endsWith(")")) {
            throw new NumberFormatException(p);
          }
          times = Integer.parseInt(p.substring(paren + 2, p.indexOf(')')).trim());
          p = p.substring(0, paren);
        }
        last = Integer.parseInt(p.trim());
      } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
        throw new DistException("SLURM's tasks per node '" + list + "' is not SLURM's form");
      }
      seen += times;
      if (node < seen) {
        return last;
      }
    }
    return last;
  }

  private static String required(Map<String, String> env, String key, String because) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      throw new DistException(key + " is not set, but " + because);
    }
    return v;
  }

  private static int integer(Map<String, String> env, String key) {
    String v = required(env, key, "this is a distributed launch");
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new DistException(key + "=" + v + " is not a number");
    }
  }

  private static int integerOr(Map<String, String> env, String key, int fallback) {
    return env.containsKey(key) ? integer(env, key) : fallback;
  }

  /** {@code rank r of W (launcher)}, for messages. */
  public String describe() {
    return distributed()
        ? String.format(
            "rank %d of %d (local %d of %d, %s, store %s:%d)",
            rank, size, localRank, localSize, launcher, masterAddr, masterPort)
        : "one process";
  }
}
