package ai.tilt.report;

import java.util.Locale;

/** How numbers read on the console: fixed decimals, compact decimals and clock times. */
final class ConsoleNumbers {
  private ConsoleNumbers() {}

  /** {@code digits} decimals; scientific where that would print only zeros or a huge number. */
  static String fixed(double v, int digits) {
    if (!Double.isFinite(v)) {
      return Double.toString(v);
    }
    double a = Math.abs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6)) {
      return String.format(Locale.ROOT, "%.3e", v);
    }
    return String.format(Locale.ROOT, "%." + digits + "f", v);
  }

  /** Up to four decimals without trailing zeros: {@code 2.1}, {@code 0.625}, {@code 3}. */
  static String compact(Double v) {
    if (v == null) {
      return "null";
    }
    String s = fixed(v, 4);
    if (s.contains(".") && !s.contains("e")) {
      s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
    return s;
  }

  /** {@code m:ss}, or {@code h:mm:ss} from an hour on. */
  static String clock(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
