package ai.tilt;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the tests tagged {@code gpu} without Maven, for scripts/gpu-check.sh on a GPU machine that
 * has a Java runtime but no build tools: {@code java -cp tilt.jar:tests.jar ai.tilt.GpuSuite
 * REPORT.json}. Writes each test's outcome to the report and exits 1 when any failed.
 */
public final class GpuSuite {
  private GpuSuite() {}

  public static void main(String[] args) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode report = json.createObjectNode();
    ArrayNode tests = report.putArray("tests");
    AtomicInteger passed = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger skipped = new AtomicInteger();
    TestExecutionListener recorder =
        new TestExecutionListener() {
          @Override
          public void executionSkipped(TestIdentifier id, String reason) {
            if (id.isTest()) {
              skipped.incrementAndGet();
            }
            tests.addObject().put("test", id.getDisplayName()).put("skipped", reason);
            System.out.println("SKIPPED " + id.getLegacyReportingName() + ": " + reason);
          }

          @Override
          public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (result.getStatus() == TestExecutionResult.Status.ABORTED) { // an assumption
              skipped.incrementAndGet();
              tests.addObject().put("test", id.getDisplayName()).put("skipped", message(result));
              System.out.println("SKIPPED " + id.getLegacyReportingName() + ": " + message(result));
              return;
            }
            if (!id.isTest()) {
              if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                failed.incrementAndGet(); // a failing @BeforeAll fails its whole class
                tests.addObject().put("test", id.getDisplayName()).put("failed", message(result));
              }
              return;
            }
            String name = id.getLegacyReportingName();
            ObjectNode t = tests.addObject().put("test", name);
            if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
              passed.incrementAndGet();
              t.put("ok", true);
              System.out.println("PASSED  " + name);
            } else {
              failed.incrementAndGet();
              t.put("failed", message(result));
              System.out.println("FAILED  " + name + ": " + message(result));
            }
          }
        };
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request()
            // the jar (or folder) holding the tests: package selectors do not look inside jars
            .selectors(selectClasspathRoots(Set.of(testRoot())))
            .filters(TagFilter.includeTags("gpu"))
            .build();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request, recorder);
    report.put("passed", passed.get()).put("failed", failed.get()).put("skipped", skipped.get());
    String out = args.length > 0 ? args[0] : "gpu-tests.json";
    json.writerWithDefaultPrettyPrinter().writeValue(new File(out), report);
    System.out.printf(
        "gpu tests: %d passed, %d failed, %d skipped (%s)%n",
        passed.get(), failed.get(), skipped.get(), out);
    System.exit(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
  }

  private static Path testRoot() {
    try {
      return Path.of(GpuSuite.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String message(TestExecutionResult r) {
    return r.getThrowable()
        .map(t -> t.getClass().getSimpleName() + ": " + t.getMessage())
        .orElse("");
  }
}
