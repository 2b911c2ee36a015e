package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of every layer for the positions seen so far, so a decode step costs one position
 * instead of the whole sequence. Arrays live in the cache's own manager; the step that extends them
 * may run in a short-lived sub-manager.
 */
public final class KvCache implements AutoCloseable {
  private final NDManager manager;
  private final NDArray[] keys; // per layer (B, KV, S, headDim), RoPE applied
  private final NDArray[] values; // per layer (B, KV, S, headDim)
  private NDArray mask; // (B, S) 1 for real tokens, 0 for padding
  private long length; // S

  public KvCache(NDManager parent, int layers) {
    this.manager = parent.newSubManager();
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  public long length() {
    return length;
  }

  /**
   * The key mask including the positions being added, set once per forward before the layers. Like
   * {@link #append}, it hands back arrays temporarily attached to the step's manager: ops on them
   * then leave their results there, not in the cache (shared/notes/djl.md section 3).
   */
  NDArray extendMask(NDArray newMask) {
    mask = extend(mask, newMask, 1);
    return mask;
  }

  /** Appends this step's keys and values of one layer; returns the whole (B, KV, S, hd) pair. */
  NDArray[] append(int layer, NDArray k, NDArray v) {
    keys[layer] = extend(keys[layer], k, 2);
    values[layer] = extend(values[layer], v, 2);
    if (layer == keys.length - 1) {
      length = keys[layer].getShape().get(2);
    }
    return new NDArray[] {keys[layer], values[layer]};
  }

  private NDArray extend(NDArray old, NDArray added, int axis) {
    NDManager step = added.getManager();
    NDArray full;
    if (old == null) {
      full = added;
    } else {
      old.tempAttach(step);
      full = old.concat(added, axis);
      old.close();
    }
    full.attach(manager);
    full.tempAttach(step);
    return full;
  }

  /** Keeps only the given batch rows (finished sequences drop out and cost nothing more). */
  public void keepRows(NDArray rows) {
    for (int i = 0; i < keys.length; i++) {
      NDArray k = keys[i].get(rows);
      NDArray v = values[i].get(rows);
      k.attach(manager);
      v.attach(manager);
      keys[i].close();
      values[i].close();
      keys[i] = k;
      values[i] = v;
    }
    NDArray m = mask.get(rows);
    m.attach(manager);
    mask.close();
    mask = m;
  }

  @Override
  public void close() {
    manager.close();
  }
}
