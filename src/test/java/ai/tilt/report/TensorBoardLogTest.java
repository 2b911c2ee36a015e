package ai.tilt.report;

import static ai.tilt.report.MetricsLogTest.m;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.report.MetricsLog.ProgressMode;
import ai.tilt.report.TensorBoardEvent.Scalar;
import ai.tilt.report.TensorBoardEvent.Text;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TensorBoard event files: the record format against bytes TensorBoard's own Python writer made,
 * what a run's MetricsLog writes (tags, steps, values, the recipe text), corruption named by file
 * and byte offset, and resume cutting the steps a killed session logged past its checkpoint.
 */
class TensorBoardLogTest {
  @TempDir Path tmp;
  final ByteArrayOutputStream captured = new ByteArrayOutputStream();
  final PrintStream console = new PrintStream(captured, true, StandardCharsets.UTF_8);

  static byte[] hex(String s) {
    return HexFormat.of().parseHex(s);
  }

  @Test
  void maskedCrc32cIsTensorFlowsMask() {
    // CRC-32C("123456789") = 0xE3069283, the check value of the Castagnoli polynomial.
    // masked = rotr15(crc) + 0xa282ead8 = (0x0001C60D | 0x25060000) + 0xa282ead8
    //        = 0x2507C60D + 0xA282EAD8 = 0xC78AB0E5 (tensorboard's masked_crc32c says the same)
    byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
    assertEquals(0xC78AB0E5, TfRecords.maskedCrc32c(check, 0, check.length));
  }

  @Test
  void recordsAreByteForByteWhatTensorBoardsPythonWriterMakes() {
    // Made with tensorboard 2.21's RecordWriter.write(event_pb2.Event(...).SerializeToString()):
    // Event(wall_time=1.5, file_version="brain.Event:2")
    assertArrayEquals(
        hex("1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c"),
        TfRecords.frame(TensorBoardEvent.fileVersion(1.5).encode()));
    // Event(wall_time=1.5, step=3, summary=Summary(value=[Value(tag="train/loss",
    // simple_value=0.25)]))
    TensorBoardEvent scalar =
        new TensorBoardEvent(1.5, 3, null, List.of(new Scalar("train/loss", 0.25f)));
    assertArrayEquals(
        hex(
            "200000000000000029eda95009000000000000f83f10032a130a110a0a747261696e2f6c6f7373150000803e43301b92"),
        TfRecords.frame(scalar.encode()));
    // the text plugin's summary: metadata from tensorboard.plugins.text.metadata
    // .create_summary_metadata, tensor TensorProto(dtype="DT_STRING", string_val=[b"a: 1"])
    TensorBoardEvent text =
        new TensorBoardEvent(1.5, 0, null, List.of(new Text("hparams/recipe", "a: 1")));
    assertArrayEquals(
        hex(
            "31000000000000009d8383e909000000000000f83f2a260a240a0e68706172616d732f726563697065"
                + "420808074204613a20314a080a060a0474657874200663ec"),
        TfRecords.frame(text.encode()));
    assertEquals(scalar, TensorBoardEvent.decode(scalar.encode()));
    TensorBoardEvent far =
        new TensorBoardEvent(2.0, 1L << 40, null, List.of(new Scalar("eval/loss", -0.0f)));
    assertEquals(far, TensorBoardEvent.decode(far.encode()));
    assertEquals(1L << 40, TensorBoardEvent.stepOf(far.encode()));
    assertEquals(3, TensorBoardEvent.stepOf(scalar.encode()));
    assertEquals(0, TensorBoardEvent.stepOf(text.encode()));
    assertEquals(0, TensorBoardEvent.stepOf(TensorBoardEvent.fileVersion(1.5).encode()));
    assertEquals(text, TensorBoardEvent.decode(text.encode()));
  }

  @Test
  void tagsAreWhatTrlUsersSeeInTensorBoard() {
    assertEquals("train/loss", TensorBoardLog.tag("train/loss"));
    assertEquals("train/learning_rate", TensorBoardLog.tag("lr"));
    assertEquals("train/grad_norm", TensorBoardLog.tag("grad_norm"));
    assertEquals("train/rewards/chosen", TensorBoardLog.tag("rewards/chosen"));
    assertEquals("train/logps/rejected", TensorBoardLog.tag("logps/rejected"));
    assertEquals("train/objective/kl", TensorBoardLog.tag("objective/kl"));
    assertEquals("train/perf/tokens_per_s", TensorBoardLog.tag("perf/tokens_per_s"));
    assertEquals("eval/reward", TensorBoardLog.tag("eval/reward"));
  }

  MetricsLog open(Path run, long resume) throws IOException {
    return new MetricsLog(run, 10, 1, resume, console, ProgressMode.LINES)
        .plots(false)
        .tensorboard("name: tb\ntrain: {lr: 0.001}");
  }

  /** Every event of the run's files, in the order TensorBoard reads them. */
  static List<TensorBoardEvent> events(Path run) throws IOException {
    List<TensorBoardEvent> all = new ArrayList<>();
    for (Path f : TensorBoardLog.eventFiles(run.resolve(TensorBoardLog.DIR))) {
      all.addAll(TensorBoardLog.read(f));
    }
    return all;
  }

  /** tag -> (step -> value) of every scalar; a second value at one step fails. */
  static Map<String, TreeMap<Long, Float>> scalars(List<TensorBoardEvent> events) {
    Map<String, TreeMap<Long, Float>> curves = new TreeMap<>();
    for (TensorBoardEvent e : events) {
      for (TensorBoardEvent.Value v : e.values()) {
        if (v instanceof Scalar s) {
          Float before =
              curves.computeIfAbsent(s.tag(), t -> new TreeMap<>()).put(e.step(), s.simpleValue());
          assertEquals(null, before, s.tag() + " twice at step " + e.step());
        }
      }
    }
    return curves;
  }

  @Test
  void aRunsMetricsComeBackWithTheirTagsStepsAndValues() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, -1)) {
      log.logStep(
          1, m("lr", 0.001, "train/loss", 2.5, "rewards/chosen", 0.0, "grad_norm", Double.NaN));
      log.logStep(2, m("lr", 0.001, "train/loss", 2.25, "rewards/chosen", -0.5));
      log.logEval(2, m("eval/loss", Double.POSITIVE_INFINITY));
    }
    List<Path> files = TensorBoardLog.eventFiles(run.resolve("tensorboard"));
    assertEquals(1, files.size());
    assertTrue(
        files
            .get(0)
            .getFileName()
            .toString()
            .matches("events\\.out\\.tfevents\\.\\d{10}\\.[A-Za-z0-9._-]+\\.\\d+\\.\\d+"),
        files.get(0).toString());
    List<TensorBoardEvent> events = events(run);
    assertEquals(TensorBoardEvent.FILE_VERSION, events.get(0).fileVersion());
    TensorBoardEvent recipe = events.get(1);
    assertEquals(0, recipe.step());
    assertEquals(
        List.of(new Text("hparams/recipe", "````\nname: tb\ntrain: {lr: 0.001}\n````")),
        recipe.values());
    // one scalar per metric per step: 4 + 3 + 1
    assertEquals(2 + 8, events.size());
    assertEquals(
        Map.of(
            "train/learning_rate", new TreeMap<>(Map.of(1L, 0.001f, 2L, 0.001f)),
            "train/loss", new TreeMap<>(Map.of(1L, 2.5f, 2L, 2.25f)),
            "train/rewards/chosen", new TreeMap<>(Map.of(1L, 0.0f, 2L, -0.5f)),
            "train/grad_norm", new TreeMap<>(Map.of(1L, Float.NaN)),
            "eval/loss", new TreeMap<>(Map.of(2L, Float.POSITIVE_INFINITY))),
        scalars(events));
    // metrics.jsonl keeps its own spelling of non-finite values
    List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertTrue(lines.get(0).contains("\"grad_norm\":\"NaN\""), lines.get(0));
    assertEquals("{\"step\":2,\"eval/loss\":\"Infinity\"}", lines.get(2));
  }

  @Test
  void aCorruptByteIsNamedWithItsFileAndOffset() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, -1)) {
      log.logStep(1, m("train/loss", 2.5));
    }
    Path file = TensorBoardLog.eventFiles(run.resolve("tensorboard")).get(0);
    byte[] good = Files.readAllBytes(file);
    // records: file_version, the recipe text, the loss; break a byte of the text's data
    int text = TfRecords.HEADER + (int) TensorBoardEvent.fileVersion(0).encode().length + 4;
    byte[] bad = good.clone();
    bad[text + TfRecords.HEADER + 5] ^= 0x01;
    Files.write(file, bad);
    IOException e = assertThrows(IOException.class, () -> TensorBoardLog.read(file));
    assertEquals(
        file + ": record at byte " + text + ": the data's CRC does not match (corrupt file)",
        e.getMessage());
    // a bit of the text's length field
    bad = good.clone();
    bad[text + 1] ^= 0x01;
    Files.write(file, bad);
    e = assertThrows(IOException.class, () -> TensorBoardLog.read(file));
    assertEquals(
        file + ": record at byte " + text + ": the length's CRC does not match (corrupt file)",
        e.getMessage());
    // a torn last record is refused by the reader
    Files.write(file, java.util.Arrays.copyOf(good, good.length - 3));
    e = assertThrows(IOException.class, () -> TensorBoardLog.read(file));
    assertTrue(e.getMessage().startsWith(file + ": record at byte "), e.getMessage());
    assertTrue(e.getMessage().endsWith("the file ends inside it"), e.getMessage());
  }

  @Test
  void aResumedRunCutsTheStepsPastItsCheckpointAndAppends() throws IOException {
    Path run = tmp.resolve("run");
    // session 1 logs steps 1..6, checkpoints at 4, and is killed after 6 with a torn record
    try (MetricsLog log = open(run, -1)) {
      for (long s = 1; s <= 6; s++) {
        log.logStep(s, m("train/loss", 10.0 + s, "lr", 0.5));
        if (s == 4) {
          log.logEval(4, m("eval/loss", 9.5));
        }
      }
    }
    Path first = TensorBoardLog.eventFiles(run.resolve("tensorboard")).get(0);
    Files.write(first, new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
    // session 2 resumes from step 4 and logs 5..8 with other values
    try (MetricsLog log = open(run, 4)) {
      for (long s = 5; s <= 8; s++) {
        log.logStep(s, m("train/loss", 20.0 + s, "lr", 0.25));
      }
    }
    String said = captured.toString(StandardCharsets.UTF_8);
    assertTrue(said.contains("removed 4 TensorBoard events past it from " + first), said);
    assertTrue(said.contains("dropped the interrupted or damaged tail"), said);
    List<Path> files = TensorBoardLog.eventFiles(run.resolve("tensorboard"));
    assertEquals(first, files.get(0));
    assertEquals(2, files.size());
    List<TensorBoardEvent> events = events(run); // both files checked: CRCs, framing, version
    Map<String, TreeMap<Long, Float>> curves = scalars(events); // fails on a step seen twice
    TreeMap<Long, Float> loss = new TreeMap<>();
    for (long s = 1; s <= 8; s++) {
      loss.put(s, (float) (s <= 4 ? 10.0 + s : 20.0 + s));
    }
    assertEquals(loss, curves.get("train/loss"));
    assertEquals(Map.of(4L, 9.5f), curves.get("eval/loss"));
    assertEquals(8, curves.get("train/learning_rate").size());
    // the recipe of each session: the first at step 0, the resumed one at its step
    List<Long> recipeSteps = new ArrayList<>();
    for (TensorBoardEvent e : events) {
      if (!e.values().isEmpty() && e.values().get(0) instanceof Text) {
        recipeSteps.add(e.step());
      }
    }
    assertEquals(List.of(0L, 4L), recipeSteps);
  }

  /** A power loss can leave zero-filled blocks after the last whole record: a resume drops them. */
  @Test
  void aResumeDropsAZeroFilledTail() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, -1)) {
      for (long s = 1; s <= 3; s++) {
        log.logStep(s, m("train/loss", 1.0 + s));
      }
    }
    Path first = TensorBoardLog.eventFiles(run.resolve("tensorboard")).get(0);
    long whole = Files.size(first);
    Files.write(first, new byte[4096], java.nio.file.StandardOpenOption.APPEND);
    IOException strict = assertThrows(IOException.class, () -> TfRecords.read(first));
    assertTrue(strict.getMessage().contains("record at byte " + whole), strict.getMessage());
    try (MetricsLog log = open(run, 3)) {
      log.logStep(4, m("train/loss", 5.0));
    }
    String said = captured.toString(StandardCharsets.UTF_8);
    assertTrue(said.contains("(from byte " + whole + ") of " + first), said);
    assertEquals(whole, Files.size(first), "the tail is gone, the records before it kept");
    TreeMap<Long, Float> loss = scalars(events(run)).get("train/loss");
    assertEquals(Map.of(1L, 2f, 2L, 3f, 3L, 4f, 4L, 5f), loss);
  }

  @Test
  void aFreshRunReplacesTheEventFilesItFinds() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, -1)) {
      log.logStep(1, m("train/loss", 1.0));
    }
    try (MetricsLog log = open(run, -1)) {
      log.logStep(1, m("train/loss", 2.0));
    }
    assertEquals(1, TensorBoardLog.eventFiles(run.resolve("tensorboard")).size());
    assertEquals(Map.of("train/loss", new TreeMap<>(Map.of(1L, 2.0f))), scalars(events(run)));
  }

  @Test
  void withoutTensorBoardNoDirectoryIsMade() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = new MetricsLog(run, 10, 1, -1, console, ProgressMode.LINES)) {
      log.plots(false).logStep(1, m("train/loss", 1.0));
    }
    assertTrue(Files.exists(run.resolve("metrics.jsonl")));
    assertTrue(Files.notExists(run.resolve("tensorboard")));
  }
}
