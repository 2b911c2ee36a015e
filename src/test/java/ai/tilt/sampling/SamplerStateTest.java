package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sampler state a checkpoint carries reads back as written; a damaged one names its file. */
class SamplerStateTest {
  @TempDir Path tmp;

  @Test
  void roundTripAndErrors() throws IOException {
    assertNull(SamplerState.read(tmp), "a checkpoint without servers has none");
    SamplerState s =
        new SamplerState(
            3,
            "iter-000003",
            "0a1b2c3d",
            new SamplerState.Prefetched(
                4,
                3,
                List.of(new long[] {5, 6}, new long[] {7}),
                List.of(
                    new Generator.Generation(
                        new long[] {9, 2}, new float[] {-0.25f, -1.5f}, Generator.FinishReason.EOS),
                    new Generator.Generation(
                        new long[] {8}, new float[] {-3f}, Generator.FinishReason.LENGTH))));
    s.write(tmp);
    SamplerState back = SamplerState.read(tmp);
    assertEquals(3, back.syncedIteration());
    assertEquals("iter-000003", back.syncedDir());
    assertEquals("0a1b2c3d", back.syncedChecksum());
    assertEquals(4, back.prefetch().iteration());
    assertEquals(3, back.prefetch().weightsIteration());
    assertArrayEquals(new long[] {5, 6}, back.prefetch().prompts().get(0));
    Generator.Generation g = back.prefetch().generations().get(0);
    assertArrayEquals(new long[] {9, 2}, g.completionIds());
    assertArrayEquals(new float[] {-0.25f, -1.5f}, g.logprobs());
    assertEquals(
        Generator.FinishReason.LENGTH, back.prefetch().generations().get(1).finishReason());
    new SamplerState(-1, null, null, null).write(tmp);
    assertNull(SamplerState.read(tmp).prefetch());
    assertNull(SamplerState.read(tmp).syncedDir());
    Files.writeString(tmp.resolve(SamplerState.FILE), "{\"synced_dir\": null}");
    IOException e = assertThrows(IOException.class, () -> SamplerState.read(tmp));
    assertTrue(e.getMessage().contains(SamplerState.FILE) && e.getMessage().contains("malformed"));
  }
}
