package ai.tilt.train;

import ai.tilt.data.DataOptions;
import ai.tilt.data.DataSpec;
import ai.tilt.data.PreferenceDataset;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.dist.Group;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.Loss;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.RewardModelLoss;
import ai.tilt.loss.Sft;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Training on a dataset file, as iterations of Algorithm 1 whose responses come from the data:
 * iteration i is the next B = {@code train.batch_size} examples of an endless stream made of one
 * seeded permutation per epoch, one pass, one minibatch, so one optimizer step. The stream is a
 * pure function of (seed, position), so a resumed run draws exactly what the uninterrupted one
 * would.
 */
final class DatasetSource implements IterationSource {
  private final DatasetObjective objective;
  private final int batchSize;
  private final int microBatch;
  private final long iterations;
  private final Streams streams;
  private final CausalLM model;
  private final List<AutoCloseable> owned; // the reference, when the objective has one
  private final Map<Long, long[]> orders = new HashMap<>(); // epoch -> permutation

  private DatasetSource(
      DatasetObjective objective,
      Recipe r,
      CausalLM model,
      Streams streams,
      List<AutoCloseable> owned) {
    this.objective = objective;
    this.model = model;
    this.owned = owned;
    Recipe.Train t = r.train();
    this.batchSize = t.batchSize();
    this.microBatch = t.microBatchSize();
    this.streams = streams;
    double epochs = t.epochs() == null ? 1.0 : t.epochs();
    this.iterations =
        t.maxSteps() > 0 ? t.maxSteps() : (long) Math.ceil(epochs * trainSize() / t.batchSize());
  }

  /** Loads the data of the recipe's loss and builds its objective (and reference). */
  static DatasetSource open(
      Recipe r,
      Path runDir,
      ModelSource source,
      Policy policy,
      TextTokenizer tokenizer,
      Streams streams,
      Group group,
      PrintStream console)
      throws IOException {
    CausalLM model = policy.model();
    Recipe.Data d = r.data();
    DataOptions options =
        new DataOptions(d.maxLength(), d.maxPromptLength(), d.skipInvalid(), d.appendEos());
    long padId = Rows.padId(tokenizer);
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      DatasetObjective objective =
          r.loss()
              .match(
                  new Loss.Cases<DatasetObjective>() {
                    @Override
                    public DatasetObjective sft(Sft loss) {
                      SftDataset train = sftData(d.trainSet(), tokenizer, options);
                      List<SftExample> eval =
                          d.eval() == null
                              ? List.of()
                              : sftData(d.evalSet(), tokenizer, options).examples();
                      return new SftObjective(
                          model,
                          padId,
                          r.train().lossNormalization(),
                          train.examples(),
                          eval,
                          train.stats().summary());
                    }

                    @Override
                    public DatasetObjective groups(GroupLoss loss) {
                      PreferenceDataset train = preferences(d.trainSet(), tokenizer, options);
                      List<ResponseGroup> eval =
                          d.eval() == null
                              ? List.of()
                              : preferences(d.evalSet(), tokenizer, options).groups();
                      return preferenceObjective(
                          r, runDir, source, policy, loss, padId, train, eval, owned, group,
                          console);
                    }

                    @Override
                    public DatasetObjective rewardModel(RewardModelLoss loss) {
                      PreferenceDataset train = preferences(d.trainSet(), tokenizer, options);
                      List<ResponseGroup> eval =
                          d.eval() == null
                              ? List.of()
                              : preferences(d.evalSet(), tokenizer, options).groups();
                      return new RewardObjective(
                          model, loss, padId, train.groups(), eval, train.stats().summary());
                    }

                    @Override
                    public DatasetObjective policyGradient(PolicyGradientLoss loss) {
                      throw new IllegalStateException(
                          loss.type() + " without online: Recipe.validate refuses this");
                    }
                  });
      return new DatasetSource(objective, r, model, streams, owned);
    } catch (UncheckedIOException e) {
      closeAll(owned);
      throw e.getCause();
    } catch (RuntimeException e) {
      closeAll(owned);
      throw e;
    }
  }

  private static SftDataset sftData(DataSpec data, TextTokenizer tokenizer, DataOptions options) {
    try {
      return SftDataset.load(data, tokenizer, options);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static PreferenceDataset preferences(
      DataSpec data, TextTokenizer tokenizer, DataOptions options) {
    try {
      return PreferenceDataset.load(data, tokenizer, options);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A preference loss over the data, its reference model or precomputed reference log-probs. */
  private static PreferenceObjective preferenceObjective(
      Recipe r,
      Path runDir,
      ModelSource source,
      Policy policy,
      GroupLoss loss,
      long padId,
      PreferenceDataset train,
      List<ResponseGroup> eval,
      List<AutoCloseable> owned,
      Group group,
      PrintStream console) {
    ReferenceModel reference = null;
    float[][] trainRef = null;
    float[][] evalRef = null;
    try {
      if (loss.needsReference() && r.model().precomputeReference()) {
        int micro = r.train().microBatchSize();
        Precision precision = ReferenceModel.precision(r);
        // rank 0 computes and writes RUN/reference_logps.json; the others read it after
        ReferenceCache cache;
        if (group.isMain()) {
          cache = ReferenceCache.open(runDir, source.initial(), micro, precision);
          trainRef = cache.logps("train", train.groups(), padId, console);
          evalRef = cache.logps("eval", eval, padId, console);
          group.barrier();
        } else {
          group.barrier();
          cache = ReferenceCache.readOnly(runDir, source.initial(), micro, precision);
          trainRef = cache.logps("train", train.groups(), padId, console);
          evalRef = cache.logps("eval", eval, padId, console);
        }
      } else if (loss.needsReference()) {
        reference = policy.reference(r, source.initial());
        owned.add(reference);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new PreferenceObjective(
        policy.model(),
        reference,
        loss,
        padId,
        train.groups(),
        eval,
        trainRef,
        evalRef,
        train.stats().summary());
  }

  @Override
  public long iterations() {
    return iterations;
  }

  @Override
  public int stepsPerIteration() {
    return 1;
  }

  @Override
  public int epochSize() {
    return trainSize();
  }

  int trainSize() {
    return objective.trainSize();
  }

  @Override
  public IterationPlan collect(long iteration, TrainerState state) {
    return new IterationPlan(
        objective,
        nextBatch(state.samplesSeen(), batchSize),
        1,
        batchSize,
        null,
        batchSize,
        state.extra(),
        0,
        Map.of());
  }

  /**
   * Examples {@code k .. k+n-1} of the endless stream made of one seeded permutation per epoch: a
   * pure function of (seed, k).
   */
  int[] nextBatch(long k, int n) {
    int size = trainSize();
    int[] out = new int[n];
    for (long i = k; i < k + n; i++) {
      long epoch = i / size;
      long[] order = orders.computeIfAbsent(epoch, e -> streams.epochOrder(size, e));
      orders.keySet().removeIf(e -> e < epoch); // only the current epoch's permutation is kept
      out[(int) (i - k)] = (int) order[(int) (i % size)];
    }
    return out;
  }

  @Override
  public boolean hasEval() {
    return objective.hasEval();
  }

  @Override
  public boolean evaluatesStart() {
    return false;
  }

  @Override
  public Map<String, Double> evaluate() {
    return objective.evaluate(model.manager(), microBatch);
  }

  @Override
  public String finalReport() {
    return "";
  }

  @Override
  public String describe() {
    return objective.describe();
  }

  @Override
  public void close() {
    objective.close();
    closeAll(owned);
  }

  static void closeAll(List<? extends AutoCloseable> owned) {
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        // closing what was opened; an error already on its way is the one to report
      }
    }
  }
}
