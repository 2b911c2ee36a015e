package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibrariesTest {
  @TempDir Path dir;

  @Test
  void thisProcessMapsTheLibtorchAndJniItRuns() {
    Torch.init();
    NativeLibraries n = NativeLibraries.probe();
    assertNotNull(n.libtorchPath(), "libtorch_cpu.so is mapped once the engine loaded");
    assertTrue(n.libtorchPath().endsWith("/libtorch_cpu.so"), n.libtorchPath());
    assertNotNull(n.jniPath());
    assertTrue(n.jniPath().endsWith("libdjl_torch.so"), n.jniPath());
    // whichever libtorch the suite runs on (Maven's 2.7.1, or one given to scripts/build-jni.sh),
    // the JNI must be the one built for it: this is what scripts/test-on-libtorch.sh proves
    assertEquals(n.jniBuiltFor(), n.libtorchVersion(), n.jniText());
    assertTrue(n.mismatch().isEmpty());
  }

  @Test
  void aWheelsVersionAndABuiltJniThatDoesNotMatchIt() throws Exception {
    Path torch = dir.resolve("site-packages/torch");
    Files.createDirectories(torch.resolve("lib"));
    Files.writeString(torch.resolve("version.py"), "__version__ = '2.11.0+cu130'\ncuda = '13.0'\n");
    Path jni = dir.resolve("engine/pytorch/2.13.0-cpu-linux-x86_64/0.36.0-libdjl_torch.so");
    Files.createDirectories(jni.getParent());
    Files.writeString(jni, "");
    Files.writeString(
        Path.of(jni + ".build.json"),
        "{\"libtorch_version\": \"2.13.0\", \"built\": \"2026-12-02T15:00:00Z\"}");
    NativeLibraries n =
        NativeLibraries.of(torch.resolve("lib/libtorch_cpu.so").toString(), jni.toString());
    assertEquals("2.11.0", n.libtorchVersion());
    assertEquals("2.13.0", n.jniBuiltFor());
    String problem = n.mismatch().orElseThrow();
    assertTrue(problem.contains("built for libtorch 2.13.0 but libtorch 2.11.0"), problem);
    assertTrue(problem.contains("scripts/build-jni.sh --torch " + torch), problem);
  }

  @Test
  void djlsPrebuiltJniIsForLibtorch271() throws Exception {
    Path zip = dir.resolve("libtorch");
    Files.createDirectories(zip.resolve("lib"));
    Files.writeString(zip.resolve("build-version"), "2.5.1+cu124\n");
    Path jni = dir.resolve("cache/pytorch/2.7.1-cpu-linux-x86_64/0.36.0-libdjl_torch.so");
    NativeLibraries n =
        NativeLibraries.of(zip.resolve("lib/libtorch_cpu.so").toString(), jni.toString());
    assertEquals("2.5.1", n.libtorchVersion());
    assertEquals(NativeLibraries.PREBUILT_JNI_LIBTORCH, n.jniBuiltFor());
    assertTrue(n.mismatch().orElseThrow().contains("DJL's prebuilt"));
    // DJL's own extracted libtorch: the version is in the cache folder's name
    assertEquals(
        "2.7.1",
        NativeLibraries.versionOf(dir.resolve(".djl.ai/pytorch/2.7.1-20250812-cpu-linux-x86_64")));
  }
}
