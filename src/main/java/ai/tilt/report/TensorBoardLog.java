package ai.tilt.report;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import ai.tilt.report.TensorBoardEvent.Scalar;
import ai.tilt.report.TensorBoardEvent.Text;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A run's curves as TensorBoard event files in {@code runDir/tensorboard/}: one scalar event per
 * metric per logged step, on metrics.jsonl's step axis, under the names a TRL user sees there
 * ({@link #tag}), flushed after each step so a killed run keeps its curves. Each session of a run
 * (the first, then each resume) writes its own file, named as TensorBoard's EventFileWriter names
 * them: {@code events.out.tfevents.<unix seconds>.<host>.<pid>.<n>}.
 */
public final class TensorBoardLog implements Closeable {
  /** The directory under the run directory: {@code tensorboard --logdir RUN/tensorboard}. */
  public static final String DIR = "tensorboard";

  /** TensorBoard takes a file for an event file when its name holds "tfevents". */
  public static final String FILE_PREFIX = "events.out.tfevents.";

  /** The text summary holding the resolved recipe. */
  public static final String HPARAMS_TAG = "hparams/recipe";

  /** The {@code <n>} of file names: files this process opened, as TensorBoard's global uid. */
  private static final AtomicInteger OPENED = new AtomicInteger();

  private final Path file;
  private final OutputStream out;

  private TensorBoardLog(Path file) throws IOException {
    this.file = file;
    this.out = new BufferedOutputStream(Files.newOutputStream(file, CREATE_NEW, WRITE));
    write(List.of(TensorBoardEvent.fileVersion(now())));
  }

  /**
   * Opens a new event file in {@code runDir/tensorboard}. A fresh run ({@code resumeFromStep} = -1)
   * first removes the event files an earlier run left there, as metrics.jsonl is replaced; a
   * resumed run first cuts every existing file to the events with {@code step <= resumeFromStep},
   * because the steps after the checkpoint will be run and logged again and TensorBoard would show
   * both (it merges every file of a directory).
   *
   * @throws IOException naming the file and byte offset of a corrupt record in a file to cut
   */
  public static TensorBoardLog open(Path runDir, long resumeFromStep, PrintStream console)
      throws IOException {
    Path dir = runDir.resolve(DIR);
    Files.createDirectories(dir);
    List<Path> existing = eventFiles(dir);
    for (Path f : existing) {
      if (resumeFromStep < 0) {
        Files.delete(f);
      } else {
        cut(f, resumeFromStep, console);
      }
    }
    return new TensorBoardLog(dir.resolve(newName(resumeFromStep < 0 ? List.of() : existing)));
  }

  /** The event file this log writes. */
  public Path file() {
    return file;
  }

  /**
   * The TensorBoard tag of a Tilt metric: what HF's TensorBoardCallback ({@code rewrite_logs})
   * makes of TRL's log keys. Evaluation metrics keep their {@code eval/} prefix, {@code lr} is
   * TRL's {@code learning_rate}, and every other training metric goes under {@code train/} ({@code
   * rewards/chosen} becomes {@code train/rewards/chosen}; {@code train/loss} stays).
   */
  public static String tag(String metric) {
    if (metric.startsWith("train/") || metric.startsWith("eval/")) {
      return metric;
    }
    return "train/" + (metric.equals("lr") ? "learning_rate" : metric);
  }

  /**
   * One event per metric at {@code step}, then a flush. Null values are skipped; NaN and infinities
   * are written as they are (TensorBoard shows them).
   */
  public void scalars(long step, Map<String, Double> metrics) {
    double wallTime = now();
    List<TensorBoardEvent> events = new ArrayList<>();
    for (Map.Entry<String, Double> e : metrics.entrySet()) {
      if (e.getValue() != null) {
        Scalar s = new Scalar(tag(e.getKey()), e.getValue().floatValue());
        events.add(new TensorBoardEvent(wallTime, step, null, List.of(s)));
      }
    }
    write(events);
  }

  /** Markdown for TensorBoard's text tab, at {@code step}. */
  public void text(long step, String tag, String markdown) {
    write(List.of(new TensorBoardEvent(now(), step, null, List.of(new Text(tag, markdown)))));
  }

  private void write(List<TensorBoardEvent> events) {
    try {
      for (TensorBoardEvent e : events) {
        TfRecords.write(out, e.encode());
      }
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  @Override
  public void close() throws IOException {
    out.close();
  }

  /** The event files of a directory in the order TensorBoard reads them (by name). */
  public static List<Path> eventFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith(FILE_PREFIX)).sorted().toList();
    }
  }

  /**
   * Every event of a file, checked: both CRCs of every record, the framing, a first event with
   * {@code file_version} {@value TensorBoardEvent#FILE_VERSION}, and values Tilt writes.
   *
   * @throws IOException naming the file and the byte offset of the first bad record
   */
  public static List<TensorBoardEvent> read(Path file) throws IOException {
    TfRecords.Contents contents = TfRecords.read(file);
    if (contents.torn()) {
      throw new IOException(
          file + ": record at byte " + contents.tornTailOffset() + ": the file ends inside it");
    }
    List<TensorBoardEvent> events = new ArrayList<>();
    for (TfRecords.Record r : contents.records()) {
      try {
        events.add(TensorBoardEvent.decode(r.data()));
      } catch (RuntimeException e) {
        throw malformed(file, r, e);
      }
    }
    if (events.isEmpty() || !TensorBoardEvent.FILE_VERSION.equals(events.get(0).fileVersion())) {
      throw new IOException(
          file + ": does not start with file_version " + TensorBoardEvent.FILE_VERSION);
    }
    return events;
  }

  private static IOException malformed(Path file, TfRecords.Record r, RuntimeException e) {
    // a buffer underflow has no message: the event's bytes end inside a field
    String why = e.getMessage() != null ? e.getMessage() : "malformed event (" + e + ")";
    return new IOException(file + ": record at byte " + r.offset() + ": " + why, e);
  }

  /** Rewrites {@code file} with its records of {@code step <= resumeFromStep}, atomically. */
  private static void cut(Path file, long resumeFromStep, PrintStream console) throws IOException {
    TfRecords.Contents contents = TfRecords.read(file, true);
    List<TfRecords.Record> kept = new ArrayList<>();
    for (TfRecords.Record r : contents.records()) {
      long step;
      try {
        step = TensorBoardEvent.stepOf(r.data());
      } catch (RuntimeException e) {
        throw malformed(file, r, e);
      }
      if (step <= resumeFromStep) {
        kept.add(r);
      }
    }
    int removed = contents.records().size() - kept.size();
    if (removed == 0 && !contents.torn()) {
      return;
    }
    // no "tfevents" in the name: a TensorBoard watching the directory must not read it
    Path tmp = file.resolveSibling(".cut.tmp");
    try (OutputStream w = new BufferedOutputStream(Files.newOutputStream(tmp))) {
      for (TfRecords.Record r : kept) {
        TfRecords.write(w, r.data());
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    if (removed > 0) {
      console.println(
          "resume @ step "
              + resumeFromStep
              + " | removed "
              + removed
              + " TensorBoard events past it from "
              + file);
    }
    if (contents.torn()) {
      console.println(
          "resume | dropped the interrupted or damaged tail (from byte "
              + contents.tornTailOffset()
              + ") of "
              + file);
    }
  }

  /**
   * A new file's name, after every existing one in name order: TensorBoard reads a directory's
   * files by name, so a resumed session's file must sort last. Two sessions in one second (a test,
   * a quick restart) could sort the other way by pid; the seconds field is then moved one past the
   * newest file's (the events inside keep their true wall times).
   */
  private static String newName(List<Path> existing) {
    long seconds = System.currentTimeMillis() / 1000;
    String tail =
        "." + host() + "." + ProcessHandle.current().pid() + "." + OPENED.getAndIncrement();
    String name = String.format("%s%010d%s", FILE_PREFIX, seconds, tail);
    if (!existing.isEmpty()) {
      String last = existing.get(existing.size() - 1).getFileName().toString();
      if (name.compareTo(last) <= 0) {
        String field = last.substring(FILE_PREFIX.length()).split("\\.")[0];
        name = String.format("%s%010d%s", FILE_PREFIX, Long.parseLong(field) + 1, tail);
      }
    }
    return name;
  }

  /** The host name as Python's socket.gethostname(), which names TensorBoard's files. */
  private static String host() {
    String name;
    try {
      // no DNS lookup, unlike InetAddress.getLocalHost(), which can hang on a misconfigured host
      name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    } catch (IOException | RuntimeException e) {
      try {
        name = InetAddress.getLocalHost().getHostName();
      } catch (IOException ex) {
        name = "localhost";
      }
    }
    return name.isEmpty() ? "localhost" : name.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  private static double now() {
    return System.currentTimeMillis() / 1000.0;
  }
}
