package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class BanditDataTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void linesHaveTheShapesTrainingReads() throws Exception {
    JsonNode sft = JSON.readTree(BanditData.sft(3, 9, 1).get(0));
    assertEquals(1, sft.get("prompt_ids").size());
    assertEquals(9, sft.get("completion_ids").size());
    JsonNode off = JSON.readTree(BanditData.offline(2, 10, 1, 1).get(1));
    assertEquals(10, off.get("response_ids").size());
    for (JsonNode r : off.get("response_ids")) {
      assertEquals(1, r.size());
      assertTrue(r.get(0).asInt() >= 0 && r.get(0).asInt() < 100);
    }
  }

  @Test
  void offlineSetsAreNestedAndStreamsIndependent() {
    List<String> big = BanditData.offline(20, 10, 1, 3);
    assertEquals(big.subList(0, 5), BanditData.offline(5, 10, 1, 3));
    assertEquals(BanditData.sft(50, 1, 3), BanditData.sft(50, 1, 3));
    assertNotEquals(
        BanditData.prompts(50, 3, 0), BanditData.prompts(50, 3, 1)); // train vs eval prompts
    assertNotEquals(BanditData.sft(50, 1, 3), BanditData.sft(50, 1, 4));
  }

  /** SFT responses are pi_data draws: their mean reward matches E_pi_data[bump at 20] = 0.377. */
  @Test
  void twoSeedsDrawDifferentDataReferencesAndOfflineSets() {
    // the lab passes each seed to its own data step: the offline runs of two seeds train on
    // different offline sets, from references fit to different SFT samples
    assertNotEquals(BanditData.offline(10, 10, 1, 1), BanditData.offline(10, 10, 1, 2));
    assertNotEquals(BanditData.sft(100, 1, 1), BanditData.sft(100, 1, 2));
    assertNotEquals(BanditData.offline(10, 10, 9, 1), BanditData.offline(10, 10, 9, 2));
    assertEquals(BanditData.offline(10, 10, 1, 2), BanditData.offline(10, 10, 1, 2));
  }

  @Test
  void responsesAreDrawnFromPiData() throws Exception {
    double s = 0;
    int n = 0;
    for (String line : BanditData.sft(20_000, 1, 9)) {
      s += PiData.bump(JSON.readTree(line).get("completion_ids").get(0).asInt(), 20, 10);
      n++;
    }
    assertEquals(0.3772, s / n, 0.01);
  }
}
