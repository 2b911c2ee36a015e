package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of every layer for the positions seen so far, so a decode step costs one position
 * instead of the whole sequence.
 *
 * <p>Storage is allocated once for {@code capacity} positions and written in place: growing by
 * concatenation copied the whole cache of every layer at every step (12 MB a step for llama-small
 * at batch 8). The arrays live in the cache's own manager; what a step gets back are views,
 * temporarily attached to the step's manager so that ops on them leave their results there
 * (shared/notes/djl.md section 3).
 */
public final class KvCache implements AutoCloseable {
  private final NDManager manager;
  private final int capacity; // positions the storage holds
  private final NDArray[] keys; // per layer (B, KV, capacity, headDim), RoPE applied
  private final NDArray[] values; // per layer (B, KV, capacity, headDim)
  private NDArray mask; // (B, S) 1 for real tokens, 0 for padding
  private long length; // S, positions written

  /**
   * @param capacity the most positions this cache will hold (prompt width + new tokens)
   */
  public KvCache(NDManager parent, int layers, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("KV cache capacity must be >= 1, got " + capacity);
    }
    this.manager = parent.newSubManager();
    this.capacity = capacity;
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  public long length() {
    return length;
  }

  public int capacity() {
    return capacity;
  }

  /**
   * The key mask including the positions being added, set once per forward before the layers. Also
   * advances nothing: {@link #append} of the last layer does.
   */
  NDArray extendMask(NDArray newMask) {
    NDManager step = newMask.getManager();
    NDArray full;
    if (mask == null) {
      full = newMask.duplicate(); // the caller's array stays the caller's
    } else {
      mask.tempAttach(step);
      full = mask.concat(newMask, 1);
      mask.close();
    }
    full.attach(manager);
    full.tempAttach(step);
    mask = full;
    return full;
  }

  /**
   * Writes this step's keys and values of one layer at positions [length, length + T); returns
   * views of the whole (B, KV, S, hd) pair.
   */
  NDArray[] append(int layer, NDArray k, NDArray v) {
    long t = k.getShape().get(2);
    if (length + t > capacity) {
      throw new IllegalStateException(
          "KV cache full: " + length + " + " + t + " positions exceed its " + capacity);
    }
    NDManager step = k.getManager();
    if (keys[layer] == null) {
      keys[layer] = storage(k);
      values[layer] = storage(v);
    }
    NDIndex at = new NDIndex(":, :, {}:{}", length, length + t);
    keys[layer].set(at, k);
    values[layer].set(at, v);
    long s = length + t;
    if (layer == keys.length - 1) {
      length = s;
    }
    return new NDArray[] {view(keys[layer], s, step), view(values[layer], s, step)};
  }

  private NDArray storage(NDArray like) {
    Shape sh = like.getShape();
    return manager.zeros(
        new Shape(sh.get(0), sh.get(1), capacity, sh.get(3)), like.getDataType(), like.getDevice());
  }

  private static NDArray view(NDArray full, long s, NDManager step) {
    NDArray v = full.get(":, :, :{}", s);
    v.attach(step);
    return v;
  }

  /**
   * The storage of every layer, for kernels that write the next position themselves (then call
   * {@link #advance}); null before the first {@link #append}.
   */
  NDArray[] keyStorage() {
    return keys[0] == null ? null : keys;
  }

  NDArray[] valueStorage() {
    return values;
  }

  /** Counts {@code t} positions written by a kernel into {@link #keyStorage}. */
  void advance(long t) {
    if (length + t > capacity) {
      throw new IllegalStateException(
          "KV cache full: " + length + " + " + t + " positions exceed its " + capacity);
    }
    length += t;
  }

  /**
   * Keeps the given batch rows, in the given order: finished sequences drop out and cost nothing
   * more, and a prompt prefilled once is repeated for each of its samples.
   *
   * @param rows (B') int64 indices into the current batch (repeats allowed)
   */
  public void keepRows(NDArray rows) {
    for (int i = 0; i < keys.length; i++) {
      keys[i] = select(keys[i], rows);
      values[i] = select(values[i], rows);
    }
    mask = select(mask, rows);
  }

  private NDArray select(NDArray a, NDArray rows) {
    NDArray kept = a.get(rows);
    kept.attach(manager);
    a.close();
    return kept;
  }

  @Override
  public void close() {
    manager.close();
  }
}
