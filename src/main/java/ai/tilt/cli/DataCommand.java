package ai.tilt.cli;

import ai.tilt.data.DataOptions;
import ai.tilt.data.DataSpec;
import ai.tilt.data.PreferenceSynth;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SynthData;
import ai.tilt.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tilt data}: training-data tools. {@code synth} writes deterministic synthetic SFT or
 * preference data; {@code check} loads an SFT file as training would and prints what it found.
 */
@Command(
    name = "data",
    mixinStandardHelpOptions = true,
    description =
        "Training-data tools: synthetic SFT and preference data, preference pairs sampled from a"
            + " model and labelled by a reward, checks of SFT files.",
    subcommands = {
      DataCommand.Synth.class,
      DataCommand.Check.class,
      PairsCommand.class,
      DataCommand.FromPaper.class
    })
public final class DataCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** {@code tilt data synth}: see {@link SynthData} and {@link PreferenceSynth}. */
  @Command(
      name = "synth",
      mixinStandardHelpOptions = true,
      description = {
        "Writes synthetic SFT or preference data as JSONL: the same arguments give a"
            + " byte-identical file.",
        "SFT tasks: count (\"Count from 7:\" -> \" 8 9 10 11 12\"), reverse, copy, arith"
            + " (\"Add 23+45=\" -> \" 68\"), mixed (a task per line), length (\"Count the cats:\" ->"
            + " \" 1 2 3 4 5 6\", 1 to 11 numbers, mode 6: the paper lab's length task), reason"
            + " (\"Ann has 13 pens, gets 4 and gives away 9. How many pens?\" ->"
            + " \" 13+4=17. 17-9=8. #### 8\", with \"answer\": \"8\").",
        "Preference tasks (--kind pairs, unpaired or lists): count, reverse, sort, mixed; the"
            + " rejected response is the right one with two items swapped, a number skipped or"
            + " repeated."
      })
  static final class Synth implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = "--kind",
        defaultValue = "sft",
        paramLabel = "KIND",
        description =
            "sft ({\"prompt\", \"completion\"} or messages), pairs ({\"prompt\","
                + " \"chosen\", \"rejected\"}), unpaired ({\"prompt\", \"completion\", \"label\"},"
                + " two lines per pair) or lists ({\"prompt\", \"responses\", \"rewards\"}, four"
                + " responses rewarded with their number of right items) (default: ${DEFAULT-VALUE})")
    String kind;

    @Option(
        names = "--task",
        required = true,
        paramLabel = "NAME",
        description =
            "sft: count, reverse, copy, arith, mixed, length or reason; preference kinds:"
                + " count, reverse, sort or mixed")
    String task;

    @Option(
        names = "--n",
        required = true,
        paramLabel = "N",
        description = "training items: lines, or pairs for --kind unpaired (two lines each)")
    int n;

    @Option(
        names = "--seed",
        defaultValue = "0",
        paramLabel = "S",
        description = "(default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "FILE.jsonl")
    Path out;

    @Option(
        names = "--format",
        defaultValue = "prompt-completion",
        paramLabel = "FORMAT",
        description =
            "prompt-completion ({\"prompt\", \"completion\"}) or messages"
                + " ({\"messages\": [user, assistant]}) (default: ${DEFAULT-VALUE})")
    String format;

    @Option(
        names = "--eval-out",
        paramLabel = "FILE.jsonl",
        description =
            "also write eval lines, drawn from a stream independent of training's"
                + " (preference kinds: with none of the training prompts)")
    Path evalOut;

    @Option(
        names = "--eval-n",
        defaultValue = "200",
        paramLabel = "N",
        description = "eval lines with --eval-out (default: ${DEFAULT-VALUE})")
    int evalN;

    @Option(
        names = "--prompts-only",
        description =
            "sft: write {\"prompt\", \"answer\"} (or a user message and \"answer\") for"
                + " on-policy training, the prompts those of the SFT lines with the same seed")
    boolean promptsOnly;

    @Override
    public Integer call() {
      SynthData.Kind k;
      SynthData.Format f;
      SynthData.Task sftTask = null;
      PreferenceSynth.PrefTask prefTask = null;
      try {
        k = SynthData.Kind.parse(kind);
        f = SynthData.Format.parse(format);
        if (k == SynthData.Kind.SFT) {
          sftTask = SynthData.Task.parse(task);
        } else {
          prefTask = PreferenceSynth.PrefTask.parse(task);
        }
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      if (n < 1) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--n must be at least 1");
      }
      if (promptsOnly && k != SynthData.Kind.SFT) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--prompts-only needs --kind sft");
      }
      if (evalOut != null && evalN < 1) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--eval-n must be at least 1");
      }
      // Both files are drawn before either is written, so a failed draw leaves no file behind.
      List<String> train;
      List<String> eval = null;
      try {
        if (k == SynthData.Kind.SFT) {
          train = SynthData.lines(sftTask, f, n, seed, promptsOnly);
          if (evalOut != null) {
            eval = SynthData.lines(sftTask, f, evalN, SynthData.evalSeed(seed), promptsOnly);
          }
        } else {
          train = PreferenceSynth.preferenceLines(k, prefTask, f, n, seed);
          if (evalOut != null) {
            eval = PreferenceSynth.heldOutLines(k, prefTask, f, evalN, seed, n);
          }
        }
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      SynthData.writeLines(out, train);
      spec.commandLine().getOut().println("wrote " + train.size() + " lines to " + out);
      if (eval != null) {
        SynthData.writeLines(evalOut, eval);
        spec.commandLine().getOut().println("wrote " + eval.size() + " lines to " + evalOut);
      }
      return 0;
    }
  }

  /** {@code tilt data check}: loads an SFT file with a tokenizer and prints its statistics. */
  @Command(
      name = "check",
      mixinStandardHelpOptions = true,
      description =
          "Tokenises an SFT JSONL file as training would and prints counts; a bad"
              + " line is an error naming file:line (or, with --skip-invalid, is counted).")
  static final class Check implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = "--model",
        converter = HubModelPath.class,
        required = true,
        paramLabel = "DIR",
        description = "directory with the tokenizer files")
    Path model;

    @Option(
        names = "--input",
        required = true,
        paramLabel = "DATA",
        description = "a .jsonl or .parquet file, a shard or save_to_disk folder, or a hub name")
    Path input;

    @Option(names = "--split", paramLabel = "NAME", description = "(default: train)")
    String split;

    @Option(
        names = "--max-length",
        defaultValue = "1024",
        paramLabel = "N",
        description = "(default: ${DEFAULT-VALUE})")
    int maxLength;

    @Option(names = "--max-prompt-length", paramLabel = "N")
    Integer maxPromptLength;

    @Option(names = "--skip-invalid", description = "count bad lines instead of failing")
    boolean skipInvalid;

    @Option(names = "--no-eos", description = "do not append EOS to text completions")
    boolean noEos;

    @Override
    public Integer call() throws Exception {
      DataOptions options;
      try {
        options = new DataOptions(maxLength, maxPromptLength, skipInvalid, !noEos);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      try (TextTokenizer tok = TextTokenizer.load(model)) {
        SftDataset data =
            SftDataset.load(new DataSpec(input.toString(), split, null, null, null), tok, options);
        spec.commandLine().getOut().println(input + ": " + data.stats().summary());
        for (String reason : data.stats().skipReasons()) {
          spec.commandLine().getOut().println("skipped " + reason);
        }
      }
      return 0;
    }
  }

  /** {@code tilt data from-paper}: see {@link ai.tilt.data.PaperPreferences}. */
  @Command(
      name = "from-paper",
      mixinStandardHelpOptions = true,
      description =
          "Converts a preference set released with Tajwar et al. (2024) (columns prompt, y_w, y_l,"
              + " y_w_score, y_l_score) to Tilt's pairs, the prompt in the paper's template"
              + " <|prompter|>{instruction}[\\n{input}]<|endoftext|><|assistant|>. --in: its hub"
              + " name in the local HuggingFace cache, its Parquet files, a save_to_disk folder or a"
              + " JSON Lines export.")
  static final class FromPaper implements Callable<Integer> {
    @Option(names = "--in", required = true, paramLabel = "FILE|DIR|NAME")
    String in;

    @Option(names = "--split", defaultValue = "train", description = "(default: ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--out", required = true, paramLabel = "FILE.jsonl")
    Path out;

    @Override
    public Integer call() throws Exception {
      int n =
          ai.tilt.data.PaperPreferences.convert(
              new ai.tilt.data.DataSpec(in, split, null, null, null), out);
      System.err.printf("wrote %d pairs to %s%n", n, out);
      return 0;
    }
  }
}
