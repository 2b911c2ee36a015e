package ai.tilt.lab;

import ai.tilt.doc.Doc;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paper lab's plan ({@code recipes/paper/lab.yaml}): experiments, each with steps that run once
 * (make data, train the reference, sample preference pairs, train a reward model: any {@code tilt}
 * command line) and groups of training runs, each a base recipe crossed with settings, methods and
 * seeds. Everything that is an experimental choice lives in the plan and its recipes; the code only
 * expands and runs them ({@link LabRunner}) and reports ({@link LabReport}).
 *
 * <p>Placeholders in step arguments and run overrides: {@code {out}} the job's directory, {@code
 * {recipes}} the plan's directory, {@code {seed}} the run's seed, {@code {setting}} its setting's
 * name (replaced first), and {@code {STEP}} the result of an earlier step of the experiment: the
 * latest checkpoint of a {@code train} step, the output directory of any other.
 */
public record LabPlan(
    @Doc("seeds of a full run (seeds 1..N; --seeds overrides)") Integer seeds,
    @Doc("seeds of a --quick run") Integer quickSeeds,
    @Doc("the experiments, by name, in the order they are reported")
        Map<String, Experiment> experiments) {

  public LabPlan {
    seeds = seeds == null ? 3 : seeds;
    quickSeeds = quickSeeds == null ? 1 : quickSeeds;
    experiments = experiments == null ? new LinkedHashMap<>() : experiments;
    if (seeds < 1 || quickSeeds < 1) {
      throw new IllegalArgumentException("seeds and quick_seeds must be >= 1");
    }
  }

  /** One experiment of the paper. */
  public record Experiment(
      @Doc("heading in the report") String title,
      @Doc("where in the paper (and in shared/notes/paper.md)") String paper,
      @Doc("what the report says about the setup and its departures from the paper") String notes,
      @Doc(
              "steps run once, in order, before the runs: name -> {run: [tilt args], quick: [args added by --quick]}")
          Map<String, Step> steps,
      @Doc("groups of runs: name -> group") Map<String, Group> groups) {
    public Experiment {
      steps = steps == null ? new LinkedHashMap<>() : steps;
      groups = groups == null ? new LinkedHashMap<>() : groups;
    }
  }

  /**
   * A command run once per seed before that seed's runs (data, a reference, a reward model: each
   * seed draws its own, so seeds are independent experiments), or once in all when {@code seedless}
   * (a deterministic computation).
   */
  public record Step(
      @Doc("the tilt command line, e.g. [train, '{recipes}/ref.yaml', --run-dir, '{out}']")
          List<String> run,
      @Doc("arguments appended in a --quick run") List<String> quick,
      @Doc(
              "true for a step with no randomness: it runs once, not once per seed (a step run per"
                  + " seed must use {seed})")
          Boolean seedless) {
    public Step {
      if (run == null || run.isEmpty()) {
        throw new IllegalArgumentException("a step needs 'run': the tilt command line");
      }
      quick = quick == null ? List.of() : quick;
      seedless = seedless != null && seedless;
      if (!seedless && run.stream().noneMatch(a -> a.contains("{seed}"))) {
        throw new IllegalArgumentException(
            "step "
                + run
                + " runs once per seed but never uses {seed}, so every seed would get the same"
                + " result: pass it (--seed '{seed}', --set 'seed={seed}') or mark the step"
                + " seedless: true");
      }
    }

    /** Whether the step trains (its result is then its latest checkpoint). */
    public boolean trains() {
      return run.get(0).equals("train");
    }
  }

  /** What a group's table and figure show. */
  public enum Report {
    /** metric against gradient steps, a panel per setting, a line per method */
    @JsonProperty("curves")
    CURVES,
    /** final metric against the setting (T, B, number of prompts), a line per method */
    @JsonProperty("sweep")
    SWEEP,
    /** log-probs of chosen and rejected against gradient steps, a panel per setting */
    @JsonProperty("likelihood")
    LIKELIHOOD
  }

  /** How a likelihood report measures a change over training. */
  public enum Change {
    /** the last logged value minus the first: full-batch runs, the same pairs every step */
    @JsonProperty("last_minus_first")
    LAST_MINUS_FIRST,
    /** the rise of the least-squares line: each step's batch holds other pairs */
    @JsonProperty("fitted")
    FITTED
  }

  /** Runs: the recipe crossed with settings x methods x seeds. */
  public record Group(
      @Doc("heading in the report") String title,
      @Doc("base recipe, relative to the plan") String recipe,
      @Doc("overrides for every run of the group (key=value, as tilt train --set)")
          List<String> set,
      @Doc("setting name -> overrides (e.g. reward, T, B)") Map<String, List<String>> settings,
      @Doc("method name -> overrides (loss, source)") Map<String, List<String>> methods,
      @Doc("curves, sweep or likelihood") Report report,
      @Doc("the metric of the table and figure (default eval/reward); '-' in front negates it")
          String metric,
      @Doc("its name in the report (default: the metric)") String metricLabel,
      @Doc("a sweep's x axis label") String xLabel,
      @Doc("a sweep's x value of each setting (default: the setting's position)")
          Map<String, Double> x,
      @Doc(
              "a likelihood report's change over training: last_minus_first (full-batch, the same"
                  + " pairs every step), or fitted (the least-squares line's rise, when each step's"
                  + " batch holds other pairs)")
          Change change,
      @Doc("what a --quick run keeps and changes") Quick quick) {
    public Group {
      set = set == null ? List.of() : set;
      settings = settings == null || settings.isEmpty() ? Map.of("default", List.of()) : settings;
      if (methods == null || methods.isEmpty()) {
        throw new IllegalArgumentException("a group needs at least one method");
      }
      if (recipe == null) {
        throw new IllegalArgumentException("a group needs a recipe");
      }
      report = report == null ? Report.CURVES : report;
      metric = metric == null ? "eval/reward" : metric;
      metricLabel = metricLabel == null ? metric : metricLabel;
      x = x == null ? Map.of() : x;
      quick = quick == null ? new Quick(null, null, null, null) : quick;
      change = change == null ? Change.LAST_MINUS_FIRST : change;
    }

    /** The metric's key in metrics.jsonl, without a leading '-'. */
    public String metricKey() {
      return metric.startsWith("-") ? metric.substring(1) : metric;
    }

    /** +1, or -1 when the metric is shown negated. */
    public double metricSign() {
      return metric.startsWith("-") ? -1 : 1;
    }
  }

  /**
   * A --quick run's subset: which settings and methods stay (default all), overrides added, or
   * skip.
   */
  public record Quick(
      @Doc("settings kept (default: all)") List<String> settings,
      @Doc("methods kept (default: all)") List<String> methods,
      @Doc("overrides added to every run") List<String> set,
      @Doc("leave the group out of a quick run") Boolean skip) {
    public Quick {
      set = set == null ? List.of() : set;
      skip = skip != null && skip;
    }
  }

  /** Reads and checks a plan; unknown keys fail naming them. */
  public static LabPlan load(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no lab plan at " + file);
    }
    JsonNode tree = new YAMLMapper().readTree(file.toFile());
    if (!(tree instanceof ObjectNode o)) {
      throw new IllegalArgumentException(file + ": a lab plan is a YAML mapping");
    }
    LabPlan plan = RecipeLoader.bind(o, List.of(), file.toString(), LabPlan.class);
    for (Map.Entry<String, Experiment> e : plan.experiments().entrySet()) {
      for (Map.Entry<String, Group> g : e.getValue().groups().entrySet()) {
        Quick q = g.getValue().quick();
        check(
            file,
            e.getKey() + "." + g.getKey() + ".quick.settings",
            q.settings(),
            g.getValue().settings());
        check(
            file,
            e.getKey() + "." + g.getKey() + ".quick.methods",
            q.methods(),
            g.getValue().methods());
      }
    }
    return plan;
  }

  private static void check(Path file, String key, List<String> names, Map<String, ?> known) {
    if (names == null) {
      return;
    }
    for (String n : names) {
      if (!known.containsKey(n)) {
        throw new IllegalArgumentException(
            file + ": " + key + " names '" + n + "', which is not one of " + known.keySet());
      }
    }
  }
}
