package ai.tilt;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.loss.Loss;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rules of the code's shape, checked on the compiled classes (and, for file sizes, on the sources).
 * The rooms and what each may use, top to bottom:
 *
 * <pre>
 * cli                      the verbs: anything below
 * bench, lab               train and below (never each other, never cli)
 * train                    the loop and its setup: dist, data, reward, sampling, report, model, ...
 * dist                     workers and their collectives (c10d): runtime
 * data, reward, sampling   tokenizer, model (not data), runtime
 * report                   nothing of Tilt's (metrics.jsonl, TensorBoard, plots)
 * model, loss, tokenizer   model and loss use runtime; tokenizer nothing
 * runtime, doc             nothing of Tilt's (DJL and the JDK only)
 * </pre>
 */
class ArchitectureTest {
  private static JavaClasses main;

  /** What each room may use besides itself (doc, the recipe-help annotation, is open to all). */
  private static final Map<String, Set<String>> ALLOWED =
      Map.ofEntries(
          Map.entry(
              "cli",
              Set.of(
                  "bench",
                  "dist",
                  "lab",
                  "train",
                  "data",
                  "reward",
                  "sampling",
                  "report",
                  "model",
                  "loss",
                  "tokenizer",
                  "runtime")),
          Map.entry(
              "bench",
              Set.of(
                  "train",
                  "dist",
                  "data",
                  "reward",
                  "sampling",
                  "report",
                  "model",
                  "loss",
                  "tokenizer",
                  "runtime")),
          Map.entry(
              "lab",
              Set.of(
                  "train",
                  "data",
                  "reward",
                  "sampling",
                  "report",
                  "model",
                  "loss",
                  "tokenizer",
                  "runtime")),
          Map.entry(
              "train",
              Set.of(
                  "dist",
                  "data",
                  "reward",
                  "sampling",
                  "report",
                  "model",
                  "loss",
                  "tokenizer",
                  "runtime")),
          Map.entry("dist", Set.of("runtime")),
          Map.entry("data", Set.of("tokenizer", "runtime")),
          Map.entry("reward", Set.of("model", "tokenizer", "runtime")),
          Map.entry("sampling", Set.of("model", "tokenizer", "runtime")),
          Map.entry("report", Set.of()),
          Map.entry("model", Set.of("runtime")),
          Map.entry("loss", Set.of("runtime")),
          Map.entry("tokenizer", Set.of()),
          Map.entry("runtime", Set.of()),
          Map.entry("doc", Set.of()));

  /** A main source file longer than this says why in its header. */
  static final int FILE_BUDGET = 400;

  @BeforeAll
  static void load() {
    main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("ai.tilt");
    assertTrue(main.size() > 100, "the main classes were found: " + main.size());
  }

  @Test
  void everyRoomIsKnown() {
    Set<String> rooms = new TreeSet<>();
    for (JavaClass c : main) {
      String room = room(c.getPackageName());
      if (room != null) {
        rooms.add(room);
      }
    }
    assertEquals(new TreeSet<>(ALLOWED.keySet()), rooms, "a new room needs its rule here");
  }

  /** Each room uses only the rooms below it, as {@link #ALLOWED} lists them. */
  @Test
  void roomsUseOnlyTheRoomsBelowThem() {
    for (Map.Entry<String, Set<String>> e : ALLOWED.entrySet()) {
      List<String> forbidden = new ArrayList<>();
      for (String other : ALLOWED.keySet()) {
        if (!other.equals(e.getKey()) && !other.equals("doc") && !e.getValue().contains(other)) {
          forbidden.add("ai.tilt." + other + "..");
        }
      }
      noClasses()
          .that()
          .resideInAPackage("ai.tilt." + e.getKey() + "..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(forbidden.toArray(new String[0]))
          .because(e.getKey() + " may use only " + e.getValue())
          .check(main);
    }
  }

  /**
   * Files stay under {@value #FILE_BUDGET} lines, or their header (the text before the type
   * declaration) says why, in a sentence with "lines because".
   */
  @Test
  void longFilesSayWhy() throws IOException {
    List<String> unexplained = new ArrayList<>();
    try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        List<String> lines = Files.readAllLines(f);
        if (lines.size() <= FILE_BUDGET) {
          continue;
        }
        StringBuilder header = new StringBuilder();
        for (String line : lines) {
          if (line.matches("^(public |final |abstract |sealed )*(class|interface|record|enum) .*")
              || line.matches(
                  "^public (final |abstract |sealed )*(class|interface|record|enum) .*")) {
            break;
          }
          header.append(line.replaceFirst("^\\s*\\*", "")).append(' ');
        }
        if (!header.toString().replaceAll("\\s+", " ").contains("lines because")) {
          unexplained.add(f + " (" + lines.size() + " lines)");
        }
      }
    }
    assertTrue(
        unexplained.isEmpty(), "over " + FILE_BUDGET + " lines with no reason: " + unexplained);
  }

  /**
   * DJL's array-with-number ops hand autograd a tensor over a Java buffer that is freed on the next
   * garbage collection, so backward reads freed memory; {@link ai.tilt.runtime.Scalars} does the
   * same arithmetic with a libtorch-owned number. (add and sub keep no operand for backward, and
   * comparisons have no gradient: those stay.)
   */
  @Test
  void arithmeticWithNumbersGoesThroughScalars() {
    String[] ops = {"mul", "div", "pow", "maximum", "minimum", "muli", "divi", "powi"};
    var rule =
        noClasses()
            .that()
            .doNotHaveFullyQualifiedName("ai.tilt.runtime.Scalars")
            .should()
            .callMethod(ai.djl.ndarray.NDArray.class, ops[0], Number.class);
    for (int i = 1; i < ops.length; i++) {
      rule = rule.orShould().callMethod(ai.djl.ndarray.NDArray.class, ops[i], Number.class);
    }
    rule.because("autograd would read the number after DJL freed it (Scalars' javadoc)")
        .check(main);
  }

  /**
   * The loop reads top to bottom with no adapter, value-head or seed code in it: those live in the
   * Policy (LoRA, the value head, what a step needs) and Streams (every draw).
   */
  @Test
  void theLoopHoldsNoAdapterValueHeadOrSeedCode() {
    noClasses()
        .that()
        .haveFullyQualifiedName("ai.tilt.train.Trainer")
        .should()
        .dependOnClassesThat()
        .haveFullyQualifiedName("ai.tilt.model.Lora")
        .orShould()
        .dependOnClassesThat()
        .haveFullyQualifiedName("ai.tilt.model.LoraFiles")
        .orShould()
        .dependOnClassesThat()
        .haveFullyQualifiedName("ai.tilt.train.ValueHead")
        .orShould()
        .dependOnClassesThat()
        .haveFullyQualifiedName("ai.tilt.train.Streams")
        .orShould()
        .dependOnClassesThat()
        .haveFullyQualifiedName("ai.tilt.model.CausalLM")
        .check(main);
  }

  private static String room(String pkg) {
    if (!pkg.startsWith("ai.tilt.")) {
      return null;
    }
    String rest = pkg.substring("ai.tilt.".length());
    int dot = rest.indexOf('.');
    return dot < 0 ? rest : rest.substring(0, dot);
  }

  @Test
  void packagesHaveNoCycles() {
    slices().matching("ai.tilt.(*)..").should().beFreeOfCycles().check(main);
  }

  /**
   * A loss says what it needs through its sealed interface (needsReference, grouping, advantages,
   * match); code outside the loss package never asks which loss it has.
   */
  @Test
  void noInstanceofOnLossTypesOutsideLoss() {
    noClasses()
        .that()
        .resideOutsideOfPackage("ai.tilt.loss..")
        .should(checkInstanceofOnLosses())
        .check(main);
  }

  private static ArchCondition<JavaClass> checkInstanceofOnLosses() {
    return new ArchCondition<>("test instanceof against a loss type") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        for (JavaCodeUnit unit : c.getCodeUnits()) {
          unit.getInstanceofChecks().stream()
              .filter(check -> check.getRawType().isAssignableTo(Loss.class))
              .forEach(
                  check ->
                      events.add(
                          SimpleConditionEvent.satisfied(
                              check,
                              unit.getFullName()
                                  + " tests instanceof "
                                  + check.getRawType().getSimpleName()
                                  + " ("
                                  + check.getSourceCodeLocation()
                                  + ")")));
        }
      }
    };
  }
}
