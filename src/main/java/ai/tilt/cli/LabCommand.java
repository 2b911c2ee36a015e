package ai.tilt.cli;

import ai.tilt.data.SynthData;
import ai.tilt.lab.BanditData;
import ai.tilt.lab.LabJobs;
import ai.tilt.lab.LabPlan;
import ai.tilt.lab.LabReport;
import ai.tilt.lab.LabRunner;
import ai.tilt.lab.ToyReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tilt lab}: the paper lab (Tajwar et al., 2024) from {@code recipes/paper/lab.yaml}: {@code
 * run} runs it and writes the report, {@code report} rewrites the report from runs on disk, {@code
 * plan} lists the jobs; {@code bandit-data} and {@code toy} are the steps the plan calls.
 */
@Command(
    name = "lab",
    mixinStandardHelpOptions = true,
    description =
        "Reproduces Tajwar et al. (2024), \"Preference Fine-Tuning of LLMs Should Leverage Suboptimal,"
            + " On-Policy Data\": bandits, synthetic length tasks and the KL toy, with a report of the paper's claims.",
    subcommands = {
      LabCommand.Run.class,
      LabCommand.Report.class,
      LabCommand.Plan.class,
      LabCommand.Bandit.class,
      LabCommand.Toy.class,
      LabWorkerCommand.class
    })
public final class LabCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Options shared by run, report and plan. */
  static class Selection {
    @Option(
        names = "--plan",
        defaultValue = "recipes/paper/lab.yaml",
        description = "the lab plan (default: ${DEFAULT-VALUE})")
    Path plan;

    @Option(
        names = "--out",
        defaultValue = "checkpoints/paper-lab",
        description = "output directory (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(
        names = "--quick",
        description =
            "the plan's quick subset: fewer settings, methods and steps (about 5 minutes on 2 cores)")
    boolean quick;

    @Option(
        names = "--seeds",
        description =
            "N for seeds 1..N, or a list such as 7,8,9 (default: the plan's seeds, or"
                + " quick_seeds with --quick)")
    String seeds;

    @Option(names = "--only", split = ",", description = "only these experiments (comma-separated)")
    List<String> only = new ArrayList<>();

    LabPlan load() throws Exception {
      LabPlan p = LabPlan.load(plan);
      for (String o : only) {
        if (!p.experiments().containsKey(o)) {
          throw new IllegalArgumentException(
              "--only "
                  + o
                  + ": no such experiment in "
                  + plan
                  + " ("
                  + p.experiments().keySet()
                  + ")");
        }
      }
      return p;
    }

    LabJobs.Options options(LabPlan p) {
      return new LabJobs.Options(
          out.toAbsolutePath(), plan.toAbsolutePath().getParent(), quick, seedList(p), only);
    }

    List<Integer> seedList(LabPlan p) {
      List<Integer> list = new ArrayList<>();
      if (seeds == null || !seeds.contains(",")) {
        int n;
        try {
          n = seeds == null ? (quick ? p.quickSeeds() : p.seeds()) : Integer.parseInt(seeds.trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "--seeds must be a count or a comma-separated list of seeds, got '" + seeds + "'");
        }
        if (n < 1) {
          throw new IllegalArgumentException("--seeds must be >= 1");
        }
        for (int s = 1; s <= n; s++) {
          list.add(s);
        }
        return list;
      }
      for (String s : seeds.split(",")) {
        try {
          list.add(Integer.parseInt(s.trim()));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("--seeds: '" + s + "' is not a seed");
        }
      }
      if (list.stream().distinct().count() != list.size() || list.stream().anyMatch(s -> s < 1)) {
        throw new IllegalArgumentException(
            "--seeds: seeds must be distinct and >= 1, got " + seeds);
      }
      return list;
    }

    /** The command that regenerates this selection, for the report. */
    String command(LabJobs.Options o) {
      String s =
          o.seeds().equals(IntStream.rangeClosed(1, o.seeds().size()).boxed().toList())
              ? Integer.toString(o.seeds().size())
              : o.seeds().stream().map(String::valueOf).collect(Collectors.joining(","));
      return "./tilt lab run"
          + (quick ? " --quick" : "")
          + " --seeds "
          + s
          + " --out "
          + out
          + (only.isEmpty() ? "" : " --only " + String.join(",", only))
          + (plan.equals(Path.of("recipes/paper/lab.yaml")) ? "" : " --plan " + plan);
    }
  }

  @Command(
      name = "run",
      mixinStandardHelpOptions = true,
      description = {
        "Runs the lab's steps and training runs (resumable: finished jobs are skipped, interrupted"
            + " training continues from its checkpoint), then writes OUT/REPORT.md with tables, figures and the"
            + " paper's claims checked seed by seed."
      })
  static final class Run implements Callable<Integer> {
    @picocli.CommandLine.Mixin Selection sel;

    @Option(names = "--jobs", description = "jobs at once (default: cores / threads)")
    Integer jobs;

    @Option(
        names = "--threads",
        defaultValue = "1",
        description = "libtorch threads per job (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(
        names = "--keep-checkpoints",
        description = "keep each run's final weights (by default only its metrics stay)")
    boolean keepCheckpoints;

    @Override
    public Integer call() throws Exception {
      LabPlan plan = sel.load();
      LabJobs.Options o = sel.options(plan);
      List<LabJobs.Job> all = LabJobs.expand(plan, o);
      int workers =
          jobs != null
              ? jobs
              : Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, threads));
      System.err.printf(
          "lab: %d jobs (%s, %d seed%s) on %d worker%s x %d thread%s; output in %s%n",
          all.size(),
          sel.quick ? "quick" : "full",
          o.seeds().size(),
          o.seeds().size() == 1 ? "" : "s",
          workers,
          workers == 1 ? "" : "s",
          threads,
          threads == 1 ? "" : "s",
          o.out());
      Files.createDirectories(o.out());
      Map<String, LabRunner.Outcome> outcomes =
          new LabRunner(all, o.planDir(), workers, threads, keepCheckpoints, System.err).run();
      long failed = outcomes.values().stream().filter(x -> x == LabRunner.Outcome.FAILED).count();
      long skipped = outcomes.values().stream().filter(x -> x == LabRunner.Outcome.SKIPPED).count();
      Path report = new LabReport(plan, o, all, sel.command(o)).write();
      System.err.printf(
          "lab: %d jobs, %d failed, %d skipped; report: %s%n", all.size(), failed, skipped, report);
      return failed + skipped == 0 ? 0 : 1;
    }
  }

  @Command(
      name = "report",
      mixinStandardHelpOptions = true,
      description =
          "Rewrites OUT/REPORT.md and its figures from the runs on disk (runs not there are reported missing).")
  static final class Report implements Callable<Integer> {
    @picocli.CommandLine.Mixin Selection sel;

    @Override
    public Integer call() throws Exception {
      LabPlan plan = sel.load();
      LabJobs.Options o = sel.options(plan);
      Path report = new LabReport(plan, o, LabJobs.expand(plan, o), sel.command(o)).write();
      System.err.println("lab: report " + report);
      return 0;
    }
  }

  @Command(
      name = "plan",
      mixinStandardHelpOptions = true,
      description = "Lists the jobs a run would make, with their commands.")
  static final class Plan implements Callable<Integer> {
    @picocli.CommandLine.Mixin Selection sel;

    @Override
    public Integer call() throws Exception {
      LabPlan plan = sel.load();
      for (LabJobs.Job j : LabJobs.expand(plan, sel.options(plan))) {
        System.out.println(j.id() + "\n  tilt " + String.join(" ", j.argv()));
      }
      return 0;
    }
  }

  @Command(
      name = "bandit-data",
      mixinStandardHelpOptions = true,
      description = {
        "Writes a didactic bandit's files (ids over 100 actions, responses from pi_data = tanh(Cauchy(-0.7, 0.4))"
            + " in 100 bins): sft.jsonl (the reference's training data), prompts.jsonl, eval.jsonl and"
            + " offline-pN.jsonl (N prompts x R responses, nested)."
      })
  static final class Bandit implements Callable<Integer> {
    @Option(names = "--out", required = true)
    Path out;

    @Option(
        names = "--tokens",
        defaultValue = "1",
        description = "actions per response: 1 (single-token bandit) or 9 (transformer bandit)")
    int tokens;

    @Option(names = "--sft-lines", defaultValue = "4000")
    int sftLines;

    @Option(
        names = "--prompts",
        defaultValue = "100",
        description = "train and eval prompt lines (default: ${DEFAULT-VALUE})")
    int prompts;

    @Option(
        names = "--offline-prompts",
        split = ",",
        defaultValue = "10",
        description = "sizes of the offline sets (default: ${DEFAULT-VALUE})")
    List<Integer> offlinePrompts;

    @Option(
        names = "--responses",
        defaultValue = "10",
        description = "responses per offline prompt (default: ${DEFAULT-VALUE})")
    int responses;

    @Option(names = "--seed", defaultValue = "2024")
    long seed;

    @Override
    public Integer call() throws Exception {
      if (tokens < 1 || sftLines < 1 || prompts < 1 || responses < 1) {
        throw new IllegalArgumentException(
            "--tokens, --sft-lines, --prompts and --responses must be >= 1");
      }
      Files.createDirectories(out);
      SynthData.writeLines(out.resolve("sft.jsonl"), BanditData.sft(sftLines, tokens, seed));
      SynthData.writeLines(out.resolve("prompts.jsonl"), BanditData.prompts(prompts, seed, 0));
      SynthData.writeLines(out.resolve("eval.jsonl"), BanditData.prompts(prompts, seed, 1));
      int max = offlinePrompts.stream().mapToInt(Integer::intValue).max().orElse(0);
      List<String> offline = BanditData.offline(max, responses, tokens, seed);
      for (int n : offlinePrompts) {
        if (n < 1) {
          throw new IllegalArgumentException("--offline-prompts: sizes must be >= 1, got " + n);
        }
        SynthData.writeLines(out.resolve("offline-p" + n + ".jsonl"), offline.subList(0, n));
      }
      System.err.printf(
          "bandit data in %s: %d SFT lines of %d action%s, %d train and eval prompts, offline sets %s x %d%n",
          out, sftLines, tokens, tokens == 1 ? "" : "s", prompts, offlinePrompts, responses);
      return 0;
    }
  }

  @Command(
      name = "toy",
      mixinStandardHelpOptions = true,
      description =
          "The KL toy of the paper's section 6: gradient steps of forward vs reverse KL on softmax logits from"
              + " p0 = [0.3, 0.3, 0.1, 0.3] toward q = [0.2, 0.1, 0.6, 0.1]; writes toy.json and toy.png.")
  static final class Toy implements Callable<Integer> {
    @Option(names = "--out", required = true)
    Path out;

    @Option(
        names = "--lr",
        split = ",",
        defaultValue = "0.5,1,2",
        description = "step sizes (default: ${DEFAULT-VALUE})")
    List<Double> lr;

    @Option(names = "--steps", defaultValue = "30")
    int steps;

    @Override
    public Integer call() throws Exception {
      Files.createDirectories(out);
      ToyReport.write(out, lr, steps);
      System.err.println("toy: " + out.resolve("toy.json") + ", " + out.resolve("toy.png"));
      return 0;
    }
  }
}
