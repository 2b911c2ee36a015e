package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parquet files, shard folders and save_to_disk folders read as their JSONL twins: the fixtures
 * under src/test/resources/data (scripts/make_data_fixtures.py, pyarrow and datasets) come with the
 * same rows written as JSON Lines by Python's json, the independent reference.
 */
class DataFormatsTest {
  static final Path DATA = resource();
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  private static Path resource() {
    try {
      return Path.of(DataFormatsTest.class.getResource("/data/pref_standard.jsonl").toURI())
          .getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every row as JSON text, in order. */
  static List<String> rows(DataSpec spec) throws IOException {
    List<String> out = new ArrayList<>();
    try (DataRows rows = DataRows.open(spec)) {
      Row r;
      while ((r = rows.next()) != null) {
        try {
          out.add(r.object().toString());
        } catch (JsonFields.Invalid e) {
          throw new AssertionError(r.message(e));
        }
      }
    }
    return out;
  }

  static DataSpec spec(String name) {
    return DataSpec.of(DATA.resolve(name));
  }

  @ParameterizedTest
  @CsvSource({
    "pref_standard.parquet, pref_standard.jsonl",
    "pref_conversational.parquet, pref_conversational.jsonl",
    "unpaired.parquet, unpaired.jsonl",
    "prompts.parquet, prompts.jsonl",
    "prompts_chat.parquet, prompts_chat.jsonl",
    "sft_prompt_completion.parquet, sft_prompt_completion.jsonl",
    "sft_messages.parquet, sft_messages.jsonl",
    "lm_text.parquet, lm_text.jsonl",
    "shards, shards.jsonl",
    "saved_dataset, pref_conversational.jsonl",
    "saved_dict, saved_dict_train.jsonl",
  })
  void rowsEqualTheirJsonlTwin(String data, String twin) throws IOException {
    List<String> expected = rows(spec(twin));
    assertTrue(expected.size() >= 2, twin);
    assertEquals(expected, rows(spec(data)));
  }

  @Test
  void theStructColumnKeepsItsListAndItsNulls() throws IOException {
    List<String> r = rows(spec("pref_standard.parquet"));
    assertTrue(
        r.get(1).contains("\"meta\":{\"source\":null,\"tags\":[],\"score\":1.25}"), r.get(1));
    assertTrue(r.get(2).contains("\"tags\":null,\"score\":null"), r.get(2));
  }

  @Test
  void aDatasetDictPicksItsSplit() throws IOException {
    Path dict = DATA.resolve("saved_dict");
    assertEquals(
        rows(spec("saved_dict_test.jsonl")),
        rows(new DataSpec(dict.toString(), "test", null, null, null)));
    DataException e =
        assertThrows(
            DataException.class,
            () -> rows(new DataSpec(dict.toString(), "validation", null, null, null)));
    assertEquals(
        dict
            + ": a DatasetDict with splits [train, test], none named 'validation' (set"
            + " data.split, or data.eval_split for data.eval)",
        e.getMessage());
  }

  @Test
  void columnsAreRenamedToTrlNames() throws IOException {
    Map<String, String> columns = Map.of("prompt", "question", "chosen", "good", "rejected", "bad");
    DataSpec renamed =
        new DataSpec(DATA.resolve("renamed.parquet").toString(), null, null, null, columns);
    PreferenceDataset a = PreferenceDataset.load(renamed, tok, DataOptions.of(64));
    PreferenceDataset b =
        PreferenceDataset.load(spec("pref_standard.jsonl"), tok, DataOptions.of(64));
    assertGroupsEqual(b, a);
    // the same renames on the JSONL twin
    DataSpec jsonl =
        new DataSpec(DATA.resolve("renamed.jsonl").toString(), null, null, null, columns);
    assertGroupsEqual(b, PreferenceDataset.load(jsonl, tok, DataOptions.of(64)));
  }

  @Test
  void aRenamedColumnTheFileLacksNamesTheFileAndItsColumns() {
    DataSpec spec =
        new DataSpec(
            DATA.resolve("renamed.parquet").toString(),
            null,
            null,
            null,
            Map.of("prompt", "query"));
    DataException e =
        assertThrows(
            DataException.class, () -> PreferenceDataset.load(spec, tok, DataOptions.of(64)));
    assertEquals(
        DATA.resolve("renamed.parquet")
            + ": no column \"query\" (data.columns.prompt) (the file's columns: question, good, bad)",
        e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({
    "pref_standard.parquet, pref_standard.jsonl, PAIRS",
    "pref_conversational.parquet, pref_conversational.jsonl, PAIRS",
    "saved_dataset, pref_conversational.jsonl, PAIRS",
    "unpaired.parquet, unpaired.jsonl, UNPAIRED",
  })
  void preferenceKindsAreFoundAsInJsonl(String data, String twin, PreferenceDataset.Kind kind)
      throws IOException {
    PreferenceDataset a = PreferenceDataset.load(spec(data), tok, DataOptions.of(64));
    PreferenceDataset b = PreferenceDataset.load(spec(twin), tok, DataOptions.of(64));
    assertEquals(kind, a.kind());
    assertGroupsEqual(b, a);
  }

  @ParameterizedTest
  @CsvSource({
    "sft_prompt_completion.parquet, sft_prompt_completion.jsonl",
    "sft_messages.parquet, sft_messages.jsonl",
    "lm_text.parquet, lm_text.jsonl",
  })
  void sftFormatsAreFoundAsInJsonl(String data, String twin) throws IOException {
    List<SftExample> a = SftDataset.load(spec(data), tok, DataOptions.of(64)).examples();
    List<SftExample> b = SftDataset.load(spec(twin), tok, DataOptions.of(64)).examples();
    assertEquals(b.size(), a.size());
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(b.get(i).ids(), a.get(i).ids());
      assertArrayEquals(b.get(i).targets(), a.get(i).targets());
    }
  }

  @ParameterizedTest
  @CsvSource({"prompts.parquet, prompts.jsonl", "prompts_chat.parquet, prompts_chat.jsonl"})
  void promptsAreReadAsInJsonl(String data, String twin) throws IOException {
    List<PromptSet.Prompt> a = PromptSet.load(spec(data), tok, 512, false, true);
    List<PromptSet.Prompt> b = PromptSet.load(spec(twin), tok, 512, false, true);
    assertEquals(b.size(), a.size());
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(b.get(i).ids(), a.get(i).ids());
      assertEquals(b.get(i).text(), a.get(i).text());
      assertEquals(b.get(i).record(), a.get(i).record()); // rewards read "answer" from it
    }
  }

  @Test
  void aColumnOfTheWrongTypeNamesTheRowAndColumn() {
    Path f = DATA.resolve("wrong_type.parquet");
    DataException e =
        assertThrows(
            DataException.class,
            () -> PreferenceDataset.load(DataSpec.of(f), tok, DataOptions.of(64)));
    assertEquals(
        f
            + ": row 0 (row group 0): field \"chosen\" must be a string when \"prompt\" is one, got"
            + " number",
        e.getMessage());
  }

  @Test
  void aMissingColumnNamesTheFileAndListsItsColumns() {
    Path f = DATA.resolve("missing_column.parquet");
    DataException e =
        assertThrows(
            DataException.class,
            () -> PreferenceDataset.load(DataSpec.of(f), tok, DataOptions.of(64)));
    assertEquals(
        f
            + ": row 0 (row group 0): missing field \"rejected\" (the file's columns: prompt, chosen)",
        e.getMessage());
  }

  @Test
  void aDamagedPageNamesTheFileRowGroupAndColumn() {
    Path f = DATA.resolve("damaged_page.parquet");
    DataException e = assertThrows(DataException.class, () -> rows(DataSpec.of(f)));
    assertTrue(
        e.getMessage().startsWith(f + ": row group 1: column \"chosen\" does not decode ("),
        e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"truncated.parquet", "not_parquet.parquet"})
  void aFileThatIsNotParquetSaysSo(String name) {
    Path f = DATA.resolve(name);
    DataException e = assertThrows(DataException.class, () -> rows(DataSpec.of(f)));
    assertTrue(
        e.getMessage().startsWith(f + ": not a Parquet file, or its footer is damaged ("),
        e.getMessage());
    assertTrue(e.getMessage().contains("Expected magic number at tail"), e.getMessage());
    assertTrue(!e.getMessage().contains("InputFile@"), e.getMessage());
  }

  static void assertGroupsEqual(PreferenceDataset expected, PreferenceDataset actual) {
    assertEquals(expected.kind(), actual.kind());
    assertEquals(expected.groups().size(), actual.groups().size());
    for (int i = 0; i < expected.groups().size(); i++) {
      ResponseGroup e = expected.groups().get(i);
      ResponseGroup a = actual.groups().get(i);
      assertArrayEquals(e.prompt(), a.prompt());
      assertEquals(e.responses().size(), a.responses().size());
      for (int j = 0; j < e.responses().size(); j++) {
        assertArrayEquals(e.responses().get(j), a.responses().get(j));
      }
      assertArrayEquals(e.rewards(), a.rewards());
    }
  }
}
