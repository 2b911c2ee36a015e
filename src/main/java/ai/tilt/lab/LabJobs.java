package ai.tilt.lab;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A {@link LabPlan} expanded into jobs: each experiment's steps in order, once per seed (or once
 * for a seedless step), then every run of its groups (setting x method x seed), each run depending
 * on its own seed's steps and the seedless ones: a seed's data, reference and reward models are its
 * own, so seeds are independent repetitions of the whole experiment. Experiments do not depend on
 * each other, so their jobs interleave when several workers run.
 */
public final class LabJobs {
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z][a-z0-9_-]*)\\}");

  private LabJobs() {}

  /**
   * One command of the lab.
   *
   * @param id unique path-like name, also the job's directory under the output
   * @param seed the run's seed (0 for a seedless step)
   * @param argv the tilt command line, placeholders unresolved
   * @param deps ids of the jobs that must finish first
   * @param step whether this is an experiment step (kept whole) rather than a training run
   */
  public record Job(
      String id,
      String experiment,
      String group,
      String setting,
      String method,
      int seed,
      Path dir,
      List<String> argv,
      List<String> deps,
      boolean step,
      boolean trains) {}

  /** Which jobs a run of the lab makes. */
  public record Options(
      Path out, Path planDir, boolean quick, List<Integer> seeds, List<String> only) {}

  public static List<Job> expand(LabPlan plan, Options o) {
    List<Job> jobs = new ArrayList<>();
    for (Map.Entry<String, LabPlan.Experiment> ee : plan.experiments().entrySet()) {
      String exp = ee.getKey();
      if (!o.only().isEmpty() && !o.only().contains(exp)) {
        continue;
      }
      LabPlan.Experiment e = ee.getValue();
      List<String> seedless = new ArrayList<>();
      Map<Integer, List<String>> steps = new LinkedHashMap<>(); // seed -> its steps, in order
      for (int seed : o.seeds()) {
        steps.put(seed, new ArrayList<>());
      }
      for (Map.Entry<String, LabPlan.Step> se : e.steps().entrySet()) {
        LabPlan.Step s = se.getValue();
        List<String> argv = new ArrayList<>(s.run());
        if (o.quick()) {
          argv.addAll(s.quick());
        }
        for (int seed : s.seedless() ? List.of(0) : o.seeds()) {
          String id = exp + "/steps/" + se.getKey() + (seed == 0 ? "" : "/seed-" + seed);
          List<String> deps = new ArrayList<>(seedless);
          if (seed != 0) {
            deps.addAll(steps.get(seed));
          }
          jobs.add(
              new Job(
                  id,
                  exp,
                  null,
                  null,
                  se.getKey(),
                  seed,
                  o.out().resolve(id),
                  argv,
                  List.copyOf(deps),
                  true,
                  s.trains()));
          if (seed == 0) {
            seedless.add(id);
          } else {
            steps.get(seed).add(id);
          }
        }
      }
      for (Map.Entry<String, LabPlan.Group> ge : e.groups().entrySet()) {
        LabPlan.Group g = ge.getValue();
        if (o.quick() && g.quick().skip()) {
          continue;
        }
        for (Map.Entry<String, List<String>> setting : g.settings().entrySet()) {
          if (o.quick()
              && g.quick().settings() != null
              && !g.quick().settings().contains(setting.getKey())) {
            continue;
          }
          for (Map.Entry<String, List<String>> method : g.methods().entrySet()) {
            if (o.quick()
                && g.quick().methods() != null
                && !g.quick().methods().contains(method.getKey())) {
              continue;
            }
            for (int seed : o.seeds()) {
              String id =
                  String.join(
                      "/", exp, ge.getKey(), setting.getKey(), method.getKey(), "seed-" + seed);
              Path dir = o.out().resolve(id);
              List<String> argv =
                  new ArrayList<>(
                      List.of("train", "{recipes}/" + g.recipe(), "--run-dir", "{out}"));
              List<String> sets = new ArrayList<>(g.set());
              sets.addAll(setting.getValue());
              sets.addAll(method.getValue());
              if (o.quick()) {
                sets.addAll(g.quick().set());
              }
              sets.add("seed=" + seed);
              for (String s : sets) {
                argv.add("--set");
                argv.add(s);
              }
              jobs.add(
                  new Job(
                      id,
                      exp,
                      ge.getKey(),
                      setting.getKey(),
                      method.getKey(),
                      seed,
                      dir,
                      argv,
                      Stream.concat(seedless.stream(), steps.get(seed).stream()).toList(),
                      false,
                      true));
            }
          }
        }
      }
    }
    return jobs;
  }

  /**
   * The results of the steps {@code job} depends on, by step name (what its {STEP} placeholders
   * name), from the finished steps' results by job id.
   */
  public static Map<String, Path> stepResults(Job job, Map<String, Path> byId) {
    Map<String, Path> out = new LinkedHashMap<>();
    for (String d : job.deps()) {
      if (byId.containsKey(d)) {
        out.put(stepName(d), byId.get(d));
      }
    }
    return out;
  }

  /** A step's name from its job id: "exp/steps/NAME" or "exp/steps/NAME/seed-S". */
  public static String stepName(String stepId) {
    String rest = stepId.substring(stepId.indexOf("/steps/") + "/steps/".length());
    int slash = rest.indexOf('/');
    return slash < 0 ? rest : rest.substring(0, slash);
  }

  /**
   * The job's command line with placeholders filled: {out}, {recipes}, {seed} and the results of
   * the steps it depends on ({@code results}: step name -> path); {setting}, the run's setting, is
   * replaced first, so {pairs-{setting}} names the step of the run's setting.
   */
  public static List<String> resolve(Job job, Path planDir, Map<String, Path> results) {
    List<String> out = new ArrayList<>();
    for (String raw : job.argv()) {
      // {setting} first, so that a method can name a step by its setting: {pairs-{setting}}
      String arg = job.setting() == null ? raw : raw.replace("{setting}", job.setting());
      Matcher m = PLACEHOLDER.matcher(arg);
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        String name = m.group(1);
        String value =
            switch (name) {
              case "out" -> job.dir().toString();
              case "recipes" -> planDir.toString();
              case "seed" -> Integer.toString(job.seed());
              default -> {
                Path p = results.get(name);
                if (p == null) {
                  throw new IllegalArgumentException(
                      job.id()
                          + ": unknown placeholder {"
                          + name
                          + "} in '"
                          + arg
                          + "' (known: out, recipes, seed and the steps before it: "
                          + results.keySet()
                          + ")");
                }
                yield p.toString();
              }
            };
        m.appendReplacement(sb, Matcher.quoteReplacement(value));
      }
      m.appendTail(sb);
      out.add(sb.toString());
    }
    return out;
  }
}
