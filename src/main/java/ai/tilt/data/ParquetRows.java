package ai.tilt.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnReader;
import org.apache.parquet.column.impl.ColumnReadStoreImpl;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.Converter;
import org.apache.parquet.io.api.GroupConverter;
import org.apache.parquet.io.api.PrimitiveConverter;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;

/**
 * The rows of a Parquet file, one row group in memory at a time, as JSON objects ({@link
 * ParquetJson}). A file that is not Parquet, a damaged footer, or a page that does not decode is a
 * {@link DataException} naming the file, and for a page its row group and column.
 */
final class ParquetRows implements RowSource {
  private final Path file;
  private final ParquetFileReader reader;
  private final MessageType schema;
  private final MessageColumnIO io;
  private final ParquetJson json;
  private final Row.Columns columns;
  private RecordReader<ObjectNode> records;
  private long left; // rows left in the current row group
  private int group = -1;
  private long row = -1; // index in the file

  ParquetRows(Path file, Map<String, String> renames) throws IOException {
    this.file = file;
    ParquetReadOptions options =
        ParquetReadOptions.builder(new PlainParquetConfiguration())
            .withCodecFactory(new ParquetCodecs())
            .build();
    try {
      reader = new ParquetFileReader(new LocalInputFile(file), options);
    } catch (IOException | RuntimeException e) {
      // parquet-java names the file by its InputFile's toString, an object id: left out
      String why = String.valueOf(e.getMessage()).replaceAll("\\S*InputFile@\\S+ ", "the file ");
      throw new DataException(
          file + ": not a Parquet file, or its footer is damaged (" + why + ")");
    }
    schema = reader.getFooter().getFileMetaData().getSchema();
    List<String> names = new ArrayList<>();
    for (Type t : schema.getFields()) {
      names.add(t.getName());
    }
    columns = new Row.Columns(renames, names);
    DataException missing = columns.missingRename(file);
    if (missing != null) {
      reader.close();
      throw missing;
    }
    try {
      io = new ColumnIOFactory().getColumnIO(schema);
      json = new ParquetJson(schema);
    } catch (RuntimeException e) { // a schema parquet-java or Tilt cannot map: the file is shut
      reader.close();
      throw e;
    }
  }

  @Override
  public Row next(int first) throws IOException {
    while (left == 0) {
      PageReadStore pages;
      try {
        pages = reader.readNextRowGroup();
      } catch (IOException | RuntimeException e) {
        throw new DataException(file + ": row group " + (group + 1) + ": " + e.getMessage());
      }
      if (pages == null) {
        return null;
      }
      group++;
      left = pages.getRowCount();
      try {
        records = io.getRecordReader(pages, json); // reads each column's first page
      } catch (RuntimeException e) {
        throw new DataException(
            file + ": row group " + group + ": " + damaged() + " (" + rootMessage(e) + ")");
      }
    }
    row++;
    left--;
    String where = file + ": row " + row + " (row group " + group + ")";
    ObjectNode o;
    try {
      o = records.read();
    } catch (RuntimeException e) {
      throw new DataException(where + ": " + damaged() + " (" + rootMessage(e) + ")");
    }
    return Row.ofObject(where, first, o, columns);
  }

  /**
   * Which column of the current row group fails to decode, found by reading each column alone
   * again: assembling a record reads all columns in turn, so its exception cannot say which one.
   */
  private String damaged() {
    try (ParquetFileReader again =
        new ParquetFileReader(
            new LocalInputFile(file),
            ParquetReadOptions.builder(new PlainParquetConfiguration())
                .withCodecFactory(new ParquetCodecs())
                .build())) {
      PageReadStore pages = again.readRowGroup(group);
      ColumnReadStoreImpl store =
          new ColumnReadStoreImpl(
              pages,
              new Ignore(schema),
              schema,
              again.getFooter().getFileMetaData().getCreatedBy());
      for (ColumnDescriptor c : schema.getColumns()) {
        try {
          ColumnReader r = store.getColumnReader(c);
          for (long i = 0, n = r.getTotalValueCount(); i < n; i++) {
            if (r.getCurrentDefinitionLevel() == c.getMaxDefinitionLevel()) {
              r.writeCurrentValueToConverter(); // decodes the value
            }
            r.consume();
          }
        } catch (RuntimeException e) {
          return "column \"" + String.join(".", c.getPath()) + "\" does not decode";
        }
      }
    } catch (IOException | RuntimeException e) {
      return "the row group does not read";
    }
    return "the row does not decode";
  }

  /** Converters that drop every value, in the schema's shape. */
  private static final class Ignore extends GroupConverter {
    private final Converter[] fields;

    Ignore(GroupType type) {
      fields = new Converter[type.getFieldCount()];
      for (int i = 0; i < fields.length; i++) {
        Type t = type.getType(i);
        fields[i] = t.isPrimitive() ? new IgnoreValue() : new Ignore(t.asGroupType());
      }
    }

    @Override
    public Converter getConverter(int i) {
      return fields[i];
    }

    @Override
    public void start() {}

    @Override
    public void end() {}
  }

  private static final class IgnoreValue extends PrimitiveConverter {
    @Override
    public void addBinary(Binary v) {
      v.toStringUsingUTF8(); // what ParquetJson does, so that a bad length fails here too
    }

    @Override
    public void addBoolean(boolean v) {}

    @Override
    public void addDouble(double v) {}

    @Override
    public void addFloat(float v) {}

    @Override
    public void addInt(int v) {}

    @Override
    public void addLong(long v) {}
  }

  private static String rootMessage(Throwable e) {
    while (e.getCause() != null && e.getCause() != e) {
      e = e.getCause();
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  @Override
  public void close() throws IOException {
    reader.close();
  }
}
