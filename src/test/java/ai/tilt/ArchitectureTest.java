package ai.tilt;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Rules of the code's shape, checked on the compiled classes. */
class ArchitectureTest {
  private static JavaClasses main;

  @BeforeAll
  static void load() {
    main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("ai.tilt");
    assertTrue(main.size() > 100, "the main classes were found: " + main.size());
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
