package ai.tilt.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which libtorch and which DJL JNI build this process actually mapped, read from {@code
 * /proc/self/maps} rather than from settings, since a mismatch between the two is exactly what a
 * user needs named: DJL's prebuilt JNI only works with libtorch 2.7.1, and a JNI built by {@code
 * scripts/build-jni.sh} only with the libtorch it was compiled against (its {@code .build.json}
 * says which).
 *
 * @param libtorchPath the mapped libtorch_cpu.so, or null off Linux or before the engine loaded
 * @param libtorchVersion its version ("2.13.0"), or null when it cannot be told
 * @param jniPath the mapped libdjl_torch.so, or null
 * @param jniBuiltFor the libtorch version the JNI was compiled against, or null when unknown
 * @param jniOrigin "DJL's prebuilt" or "scripts/build-jni.sh" (with its date)
 */
public record NativeLibraries(
    String libtorchPath,
    String libtorchVersion,
    String jniPath,
    String jniBuiltFor,
    String jniOrigin) {

  /** The libtorch DJL 0.36's prebuilt JNI (pytorch-jni 2.7.1-0.36.0) is linked against. */
  public static final String PREBUILT_JNI_LIBTORCH = "2.7.1";

  private static final Pattern VERSION_PY = Pattern.compile("__version__ = '([0-9.]+)");
  private static final Pattern DJL_CACHE_DIR = Pattern.compile("/(\\d+\\.\\d+\\.\\d+)-[^/]*-linux");

  /** What this process mapped (after the engine loaded). */
  public static NativeLibraries probe() {
    List<String> maps;
    try {
      maps = Files.readAllLines(Path.of("/proc/self/maps"));
    } catch (IOException | RuntimeException e) {
      return new NativeLibraries(null, null, null, null, null);
    }
    return of(mapped(maps, "libtorch_cpu.so"), mapped(maps, "libdjl_torch.so"));
  }

  /** From the two paths (tests give their own). */
  static NativeLibraries of(String libtorch, String jni) {
    String version = libtorch == null ? null : versionOf(Path.of(libtorch).getParent());
    String builtFor = null;
    String origin = null;
    if (jni != null) {
      Path build = Path.of(jni + ".build.json");
      if (Files.isRegularFile(build)) {
        try {
          JsonNode n = new ObjectMapper().readTree(build.toFile());
          builtFor = n.path("libtorch_version").asText(null);
          origin = "scripts/build-jni.sh, " + n.path("built").asText("date unknown");
        } catch (IOException e) {
          origin = "scripts/build-jni.sh (unreadable " + build + ": " + e.getMessage() + ")";
        }
      } else {
        builtFor = PREBUILT_JNI_LIBTORCH;
        origin = "DJL's prebuilt (pytorch-jni 2.7.1-0.36.0)";
      }
    }
    return new NativeLibraries(libtorch, version, jni, builtFor, origin);
  }

  /** The version of the libtorch whose lib/ folder this is, or null. */
  static String versionOf(Path lib) {
    if (lib == null) {
      return null;
    }
    Path root = lib.getParent();
    try {
      if (root != null && Files.isRegularFile(root.resolve("version.py"))) { // a pip wheel
        Matcher m = VERSION_PY.matcher(Files.readString(root.resolve("version.py")));
        if (m.find()) {
          return m.group(1);
        }
      }
      if (root != null && Files.isRegularFile(root.resolve("build-version"))) { // a libtorch zip
        String v = Files.readString(root.resolve("build-version")).trim();
        return v.replaceAll("\\+.*", "");
      }
    } catch (IOException e) {
      return null;
    }
    // DJL's own download cache: .../pytorch/2.7.1-20250812-cpu-linux-x86_64/libtorch_cpu.so
    Matcher m = DJL_CACHE_DIR.matcher(lib.toString() + "/");
    return m.find() ? m.group(1) : null;
  }

  /** A problem to name, or empty when the JNI matches the libtorch (or either is unknown). */
  public Optional<String> mismatch() {
    if (libtorchVersion == null || jniBuiltFor == null || libtorchVersion.equals(jniBuiltFor)) {
      return Optional.empty();
    }
    return Optional.of(
        "the JNI "
            + jniPath
            + " ("
            + jniOrigin
            + ") was built for libtorch "
            + jniBuiltFor
            + " but libtorch "
            + libtorchVersion
            + " is loaded from "
            + libtorchPath
            + "\n  fix: scripts/build-jni.sh --torch "
            + Path.of(libtorchPath).getParent().getParent()
            + ", then source the env.sh it writes");
  }

  /** One line for doctor. */
  public String jniText() {
    if (jniPath == null) {
      return "not mapped";
    }
    return jniPath
        + " ("
        + jniOrigin
        + ", for libtorch "
        + (jniBuiltFor == null ? "?" : jniBuiltFor)
        + ")";
  }

  private static String mapped(List<String> maps, String name) {
    for (String line : maps) {
      int slash = line.indexOf('/');
      if (slash >= 0 && line.endsWith(name)) {
        return line.substring(slash);
      }
    }
    return null;
  }
}
