package ai.tilt.sampling;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request {@code tilt serve} refuses, answered in OpenAI's error shape {@code {"error":
 * {"message", "type", "param", "code"}}}: {@code param} is the request's own field name, so a
 * client (and the {@code openai} library's {@code BadRequestError.param}) sees which field was
 * wrong. Types and codes are OpenAI's where it has one.
 */
final class ApiError extends RuntimeException {
  final int status;
  final String type;
  final String param; // null when no one field is at fault
  final String code; // null, or a machine-readable reason such as "invalid_type"

  ApiError(int status, String type, String param, String code, String message) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** 400: a field's value is wrong. */
  static ApiError invalid(String param, String code, String message) {
    return new ApiError(400, "invalid_request_error", param, code, message);
  }

  static ApiError invalid(String param, String message) {
    return invalid(param, null, message);
  }

  /** 400 for a field tilt serve knows but does not implement at the value given. */
  static ApiError unsupported(String param, String message) {
    return invalid(param, "unsupported_parameter", message);
  }

  static ApiError modelNotFound(String model) {
    return new ApiError(
        404,
        "invalid_request_error",
        "model",
        "model_not_found",
        "The model `" + model + "` does not exist (see GET /v1/models).");
  }

  static ApiError server(String message) {
    return new ApiError(500, "server_error", null, null, message);
  }

  ObjectNode body() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ObjectNode e = root.putObject("error");
    e.put("message", getMessage());
    e.put("type", type);
    e.put("param", param);
    e.put("code", code);
    return root;
  }
}
