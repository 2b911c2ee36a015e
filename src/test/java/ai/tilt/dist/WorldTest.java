package ai.tilt.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The launch conventions a worker recognises, read from its environment. */
class WorldTest {
  @Test
  void aPlainProcessIsAlone() {
    World w = World.of(Map.of("HOME", "/root"));
    assertFalse(w.distributed());
    assertEquals(1, w.size());
    // a SLURM allocation running one task is no data-parallel job
    assertFalse(World.of(Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "1")).distributed());
    // nor is the batch script of a 16-task allocation, outside any srun step
    assertFalse(
        World.of(Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "16", "SLURM_JOB_ID", "7"))
            .distributed());
  }

  @Test
  void torchrunsVariablesMakeAWorker() {
    World w =
        World.of(
            Map.of(
                "RANK",
                "3",
                "WORLD_SIZE",
                "8",
                "LOCAL_RANK",
                "1",
                "LOCAL_WORLD_SIZE",
                "4",
                "MASTER_ADDR",
                "node0",
                "MASTER_PORT",
                "29500",
                "TORCHELASTIC_RUN_ID",
                "x"));
    assertEquals(3, w.rank());
    assertEquals(8, w.size());
    assertEquals(1, w.localRank());
    assertEquals(4, w.localSize());
    assertEquals("node0", w.masterAddr());
    assertEquals(29500, w.masterPort());
    assertFalse(w.storeServer(), "only rank 0 serves the store");
    assertEquals("", w.storePrefix());
    assertEquals("torchrun", w.launcher());
    assertTrue(
        World.of(Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1"))
            .storeServer());
  }

  /** Under torchrun's agent store every rank is a client, under torch's own prefix. */
  @Test
  void theAgentStoreIsJoinedAsAClientUnderItsPrefix() {
    World w =
        World.of(
            Map.of(
                "RANK",
                "0",
                "WORLD_SIZE",
                "2",
                "MASTER_ADDR",
                "h",
                "MASTER_PORT",
                "29400",
                "TORCHELASTIC_USE_AGENT_STORE",
                "True",
                "TORCHELASTIC_RESTART_COUNT",
                "2"));
    assertFalse(w.storeServer());
    assertEquals("/worker/attempt_2", w.storePrefix());
  }

  /** A Kubernetes PyTorchJob (v1) sets the four variables and no local ones: one per pod. */
  @Test
  void aPyTorchJobPodIsAWorkerOfItsOwnMachine() {
    World w =
        World.of(
            Map.of(
                "RANK",
                "1",
                "WORLD_SIZE",
                "4",
                "MASTER_ADDR",
                "job-master-0",
                "MASTER_PORT",
                "23456"));
    assertEquals(0, w.localRank());
    assertEquals(1, w.localSize());
    assertEquals("env", w.launcher());
  }

  @Test
  void slurmStepsOfSeveralTasks() {
    World w =
        World.of(
            Map.of(
                "SLURM_PROCID",
                "5",
                "SLURM_NTASKS",
                "32",
                "SLURM_STEP_NUM_TASKS",
                "16",
                "SLURM_LOCALID",
                "1",
                "SLURM_NODEID",
                "2",
                "SLURM_STEP_TASKS_PER_NODE",
                "4(x2),8,4",
                "SLURM_JOB_ID",
                "123456",
                "MASTER_ADDR",
                "gpu-01"));
    assertEquals(5, w.rank());
    assertEquals(16, w.size());
    assertEquals(1, w.localRank());
    assertEquals(8, w.localSize());
    assertEquals(15000 + 123456 % 20000, w.masterPort());
    assertEquals("slurm", w.launcher());
    String missing =
        assertThrows(
                DistException.class,
                () -> World.of(Map.of("SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "2")))
            .getMessage();
    assertTrue(missing.contains("MASTER_ADDR") && missing.contains("scontrol"), missing);
  }

  @Test
  void slurmsTasksPerNodeListIsExpanded() {
    assertEquals(8, World.tasksOnNode("8(x2)", 1));
    assertEquals(4, World.tasksOnNode("2,4(x3),1", 3));
    assertEquals(1, World.tasksOnNode("2,4(x3),1", 4));
    assertEquals(1, World.tasksOnNode("2,4(x3),1", 9)); // past the end: the last count
    String bad =
        assertThrows(DistException.class, () -> World.tasksOnNode("4(y2)", 0)).getMessage();
    assertTrue(bad.contains("4(y2)"), bad);
  }

  @Test
  void badVariablesAreNamed() {
    assertTrue(
        assertThrows(
                DistException.class,
                () ->
                    World.of(
                        Map.of(
                            "RANK",
                            "x",
                            "WORLD_SIZE",
                            "2",
                            "MASTER_ADDR",
                            "a",
                            "MASTER_PORT",
                            "1")))
            .getMessage()
            .contains("RANK=x"));
    assertTrue(
        assertThrows(
                DistException.class,
                () ->
                    World.of(
                        Map.of(
                            "RANK",
                            "2",
                            "WORLD_SIZE",
                            "2",
                            "MASTER_ADDR",
                            "a",
                            "MASTER_PORT",
                            "1")))
            .getMessage()
            .contains("rank 2 of 2"));
    assertTrue(
        assertThrows(DistException.class, () -> World.of(Map.of("RANK", "0", "WORLD_SIZE", "2")))
            .getMessage()
            .contains("MASTER_ADDR"));
  }
}
