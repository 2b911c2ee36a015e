package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The weights checksum: a manifest that checks its files (CRC32C, the values pinned against
 * java.util.zip's), tilt serve refusing a torn copy and answering with the checksum it loaded, and
 * the trainer's client failing, naming the server, when that differs from what it wrote.
 */
class WeightsManifestTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  @Test
  void aManifestChecksItsFiles() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("w"));
    assertNull(WeightsManifest.verify(dir), "no manifest: nothing to check");
    Files.writeString(dir.resolve("a.bin"), "hello");
    Files.writeString(dir.resolve("config.json"), "{}");
    String sum = WeightsManifest.write(dir);
    JsonNode m = JSON.readTree(dir.resolve(WeightsManifest.FILE).toFile());
    // CRC32C("hello") = 0x9a71bb4c (RFC 3720's polynomial; java.util.zip.CRC32C)
    assertEquals("9a71bb4c", m.get("files").get("a.bin").asText());
    assertEquals(sum, WeightsManifest.verify(dir));
    Files.writeString(dir.resolve("a.bin"), "hellO");
    IOException torn = assertThrows(IOException.class, () -> WeightsManifest.verify(dir));
    assertTrue(torn.getMessage().contains("a.bin has checksum"), torn.getMessage());
    Files.delete(dir.resolve("a.bin"));
    IOException gone = assertThrows(IOException.class, () -> WeightsManifest.verify(dir));
    assertTrue(gone.getMessage().contains("missing"), gone.getMessage());
    Files.writeString(dir.resolve("a.bin"), "other");
    assertNotEquals(sum, WeightsManifest.write(dir), "other files, another checksum");
  }

  @Test
  void tiltServeChecksAndAnswersWithTheChecksumItLoaded() throws Exception {
    // CompletionsServerTest's models go in this test's directory: JUnit fills that class's
    // @TempDir only when it runs the class itself
    CompletionsServerTest.tmp = Files.createDirectories(tmp.resolve("server"));
    CompletionsServerTest.start();
    try {
      Path copy = tmp.resolve("copy");
      Files.createDirectories(copy);
      try (var files = Files.list(CompletionsServerTest.other)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Files.copy(f, copy.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      String sum = WeightsManifest.write(copy);
      try (CompletionsClient c = CompletionsServerTest.client("base")) {
        JsonNode ok = c.updateWeightsFromDisk("/update_weights_from_disk", copy.toString());
        assertEquals(sum, ok.get("weights_checksum").asText());
        c.checkLoaded(ok, sum, copy.toString()); // the same: no error
        SamplingServerException wrong =
            assertThrows(SamplingServerException.class, () -> c.checkLoaded(ok, "00000000", "DIR"));
        assertTrue(
            wrong.getMessage().contains(CompletionsServerTest.url.toString())
                && wrong.getMessage().contains("loaded weights with checksum " + sum)
                && wrong.getMessage().contains("the trainer wrote 00000000"),
            wrong.getMessage());
        // an answer without a checksum (vLLM, SGLang) is not checked
        c.checkLoaded(JSON.readTree("{\"success\": true}"), sum, "DIR");
      }
      // a torn copy: the server refuses it and keeps serving what it had
      byte[] w = Files.readAllBytes(copy.resolve("model.safetensors"));
      w[w.length - 1] ^= 1;
      Files.write(copy.resolve("model.safetensors"), w);
      HttpResponse<String> r =
          CompletionsServerTest.post(
              "/update_weights_from_disk", "{\"model_path\": \"" + copy + "\"}");
      JsonNode body = JSON.readTree(r.body());
      assertFalse(body.get("success").asBoolean());
      assertTrue(body.get("message").asText().contains("model.safetensors has checksum"), r.body());
    } finally {
      CompletionsServerTest.stop();
    }
  }

  @Test
  void aWeightUpdateThatHangsFailsNamingTheServer() throws Exception {
    com.sun.net.httpserver.HttpServer hung =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 4);
    hung.createContext(
        "/update_weights_from_disk",
        ex -> {
          try {
            Thread.sleep(3000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          ex.close();
        });
    hung.start();
    URI url = URI.create("http://127.0.0.1:" + hung.getAddress().getPort());
    try (CompletionsClient c =
        new CompletionsClient(
            new CompletionsClient.Settings(
                url, "p", 1, Duration.ofMillis(300), 0, Duration.ZERO, new long[] {2}))) {
      long t0 = System.nanoTime();
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.updateWeightsFromDisk("/update_weights_from_disk", "/w"));
      assertTrue((System.nanoTime() - t0) / 1e9 < 2.5, "within the timeout, not the server's 3 s");
      assertTrue(e.getMessage().contains(url.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("update_weights_from_disk"), e.getMessage());
    } finally {
      hung.stop(0);
    }
  }
}
