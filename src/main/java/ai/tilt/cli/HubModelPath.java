package ai.tilt.cli;

import ai.tilt.runtime.HubCache;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A {@code --model} value: a local directory, or a hub name found offline in the HuggingFace cache
 * at its {@code main} revision (verbs with {@code --revision} resolve through {@link
 * ModelOptions}). A miss is picocli's usage error, naming every place looked.
 */
public final class HubModelPath implements ITypeConverter<Path> {
  @Override
  public Path convert(String value) {
    try {
      return HubCache.resolve(HubCache.RepoType.MODEL, value, null);
    } catch (IOException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }
}
