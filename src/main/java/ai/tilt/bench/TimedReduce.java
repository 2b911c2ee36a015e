package ai.tilt.bench;

import ai.djl.ndarray.NDArray;
import ai.tilt.dist.Group;
import ai.tilt.train.Optimizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** An optimizer that times how long each step spends combining the workers' gradients. */
final class TimedReduce implements Optimizer {
  private final Optimizer inner;
  double seconds; // of the last step's reduceGradients

  TimedReduce(Optimizer inner) {
    this.inner = inner;
  }

  @Override
  public double reduceGradients(Group group) {
    long t0 = System.nanoTime();
    double norm = inner.reduceGradients(group);
    seconds = (System.nanoTime() - t0) / 1e9;
    return norm;
  }

  @Override
  public void clip(float scale) {
    inner.clip(scale);
  }

  @Override
  public void update(double lr) {
    inner.update(lr);
  }

  @Override
  public long step() {
    return inner.step();
  }

  @Override
  public List<NDArray> stateArrays() {
    return inner.stateArrays();
  }

  @Override
  public void gather() {
    inner.gather();
  }

  @Override
  public void save(Path file) throws IOException {
    inner.save(file);
  }

  @Override
  public void load(Path file) throws IOException {
    inner.load(file);
  }

  @Override
  public void close() {
    inner.close();
  }
}
