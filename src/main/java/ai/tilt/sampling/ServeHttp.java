package ai.tilt.sampling;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/1.1 side of {@code tilt serve}, on Netty. Netty keeps reading every connection while its
 * request runs, so a client that closes it (gives up, times out, is killed) is seen at once and
 * {@link Call#onGone} cancels the request's work, streamed or not. Bodies over the size limit get a
 * 413 from the headers, before they are read. Requests are answered on worker threads (they wait
 * for the model); a connection's pipelined requests are answered in order.
 */
final class ServeHttp implements AutoCloseable {
  /** Answers one request; runs on a worker thread and may block. */
  interface Handler {
    void handle(Call call);
  }

  private final EventLoopGroup boss;
  private final EventLoopGroup io;
  private final Channel server;

  ServeHttp(
      InetSocketAddress address, long maxRequestBytes, ExecutorService workers, Handler handler)
      throws IOException {
    boss =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("tilt-serve-accept", true), NioIoHandler.newFactory());
    io =
        new MultiThreadIoEventLoopGroup(
            2, new DefaultThreadFactory("tilt-serve-io", true), NioIoHandler.newFactory());
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, io)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(new HttpServerCodec())
                        .addLast(new SizeLimit(maxRequestBytes))
                        .addLast(new Requests(workers, handler));
                  }
                });
    try {
      server = b.bind(address).sync().channel();
    } catch (Exception e) { // Netty rethrows the bind's checked exception as it is
      close();
      if (e instanceof BindException be) {
        throw be;
      }
      throw new IOException("cannot listen on " + address + ": " + e, e);
    } catch (Throwable t) {
      close();
      throw t;
    }
  }

  int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().awaitUninterruptibly();
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  /** One request and its answer: JSON once, or server-sent events. */
  static final class Call {
    final String method;
    final String path;
    final HttpHeaders headers;
    final byte[] body;
    private final Channel channel;
    private final boolean keepAlive;
    private final List<Runnable> onGone = new ArrayList<>();
    private boolean gone;
    private volatile boolean answered;
    private boolean streaming;

    Call(Channel channel, FullHttpRequest request) {
      this.channel = channel;
      this.method = request.method().name();
      this.path = new QueryStringDecoder(request.uri()).path();
      this.headers = request.headers().copy();
      this.body = ByteBufUtil.getBytes(request.content());
      this.keepAlive = HttpUtil.isKeepAlive(request);
    }

    /** Whether the client went away (closed the connection, or a write to it failed). */
    synchronized boolean gone() {
      return gone;
    }

    /** Runs {@code r} when the client goes away (now, if it has). */
    void onGone(Runnable r) {
      synchronized (this) {
        if (!gone) {
          onGone.add(r);
          return;
        }
      }
      r.run();
    }

    void markGone() {
      List<Runnable> run;
      synchronized (this) {
        if (gone) {
          return;
        }
        gone = true;
        run = List.copyOf(onGone);
      }
      run.forEach(Runnable::run);
    }

    boolean answered() {
      return answered;
    }

    void respond(int status, byte[] json, Map<String, String> extraHeaders) {
      answered = true;
      FullHttpResponse r =
          new DefaultFullHttpResponse(
              HttpVersion.HTTP_1_1,
              HttpResponseStatus.valueOf(status),
              Unpooled.wrappedBuffer(json));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
      extraHeaders.forEach((k, v) -> r.headers().set(k, v));
      finish(channel.writeAndFlush(r));
    }

    /** Sends 200 and the event-stream headers; then {@link #event}s, then {@link #endEvents}. */
    void startEvents() {
      answered = true;
      streaming = true;
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
      r.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
      HttpUtil.setTransferEncodingChunked(r, true);
      watch(channel.writeAndFlush(r));
    }

    boolean streaming() {
      return streaming;
    }

    /** One {@code data: ...} event; a write that fails marks the client gone. */
    void event(String data) {
      byte[] bytes = ("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
      watch(channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes))));
    }

    void endEvents() {
      finish(channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    private void watch(ChannelFuture f) {
      f.addListener(
          (ChannelFutureListener)
              done -> {
                if (!done.isSuccess()) {
                  markGone();
                }
              });
    }

    private void finish(ChannelFuture f) {
      watch(f);
      if (!keepAlive) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
    }

    /** Drops a connection whose request ends unanswered (its client went away). */
    void abandon() {
      channel.close();
    }
  }

  /** 413 in OpenAI's error shape, from the Content-Length before the body is read. */
  private static final class SizeLimit extends HttpObjectAggregator {
    private final long max;

    SizeLimit(long max) {
      super((int) Math.min(max, Integer.MAX_VALUE));
      this.max = max;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
      long length = HttpUtil.getContentLength(oversized, -1L);
      // a keep-alive client may go on sending the body: the aggregator discards it, and the
      // connection stays usable; otherwise close once the answer is out
      boolean keep = HttpUtil.isKeepAlive(oversized) && length >= 0;
      var f = ctx.writeAndFlush(tooLarge(length));
      if (!keep) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
    }

    /** A client that sent "Expect: 100-continue" gets the same JSON instead of an empty 413. */
    @Override
    protected Object newContinueResponse(
        HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
      Object r = super.newContinueResponse(start, maxContentLength, pipeline);
      if (r instanceof FullHttpResponse full
          && full.status().equals(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE)) {
        full.release();
        return tooLarge(HttpUtil.getContentLength(start, -1L));
      }
      return r;
    }

    private FullHttpResponse tooLarge(long length) {
      ApiError e =
          new ApiError(
              413,
              "invalid_request_error",
              null,
              "request_too_large",
              "The request body has "
                  + (length >= 0 ? length + " bytes" : "more than " + max + " bytes")
                  + ", over this server's limit of "
                  + max
                  + " (tilt serve --max-request-bytes).");
      byte[] json = e.body().toString().getBytes(StandardCharsets.UTF_8);
      FullHttpResponse r =
          new DefaultFullHttpResponse(
              HttpVersion.HTTP_1_1,
              HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
              Unpooled.wrappedBuffer(json));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
      return r;
    }
  }

  /** Hands each request to the workers, in order per connection; tells calls their client left. */
  private static final class Requests extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ExecutorService workers;
    private final Handler handler;
    private final Set<Call> open = ConcurrentHashMap.newKeySet();
    private CompletableFuture<Void> last = CompletableFuture.completedFuture(null);

    Requests(ExecutorService workers, Handler handler) {
      this.workers = workers;
      this.handler = handler;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      if (request.decoderResult().isFailure()) { // e.g. a request line or headers too long
        byte[] json =
            ApiError.invalid(null, "Malformed HTTP request: " + request.decoderResult().cause())
                .body()
                .toString()
                .getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r =
            new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST, Unpooled.wrappedBuffer(json));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      Call call = new Call(ctx.channel(), request);
      open.add(call);
      try {
        last =
            last.handleAsync(
                (done, failed) -> {
                  try {
                    handler.handle(call);
                  } finally {
                    open.remove(call);
                    if (!call.answered()) {
                      call.abandon();
                    }
                  }
                  return null;
                },
                workers);
      } catch (RejectedExecutionException e) { // shutting down
        ctx.close();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      open.forEach(Call::markGone);
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // a reset connection: channelInactive follows
    }
  }
}
