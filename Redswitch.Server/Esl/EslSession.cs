using System.Net;
using DotNetty.Transport.Channels;
using Redswitch.Protocol.Messages;

namespace Redswitch.Server.Esl;

/// <summary>What a session reports to its owner. Called on the channel's event-loop thread: never block.</summary>
public interface IEslSessionListener
{
    void OnActive(EslSession session);
    void OnEvent(EslSession session, EslEvent evt);
    void OnOther(EslSession session, EslMessage message);
    void OnClosed(EslSession session);
}

/// <summary>
/// One ESL connection: commands go out in order and every <c>command/reply</c> or <c>api/response</c>
/// completes the oldest pending command (esl-protocol.md §2.8); events go to the listener.
/// The pending FIFO lives on the channel's event loop only (no lock): a send from another thread is handed
/// to the loop. Reply callbacks run on the event loop, in wire order.
/// </summary>
public sealed class EslSession(IEslSessionListener listener, string linkName, Metrics.RedswitchMetrics? metrics, Microsoft.Extensions.Logging.ILogger? logger = null)
    : SimpleChannelInboundHandler<EslMessage>, ICallSocket
{
    private readonly Queue<Action<EslMessage?>?> _pending = new();
    private volatile IChannel? _channel;
    private volatile bool _closed;
    private readonly Prometheus.Counter.Child? _frames = metrics?.EslFrames.WithLabels(linkName);
    private readonly Prometheus.Counter.Child? _bytes = metrics?.EslBytes.WithLabels(linkName);

    public EndPoint? Remote => _channel?.RemoteAddress;

    public bool IsOpen => !_closed && _channel is not null;

    /// <summary>When the last frame arrived (UTC).</summary>
    public DateTime LastFrame { get; private set; } = DateTime.UtcNow;

    /// <summary>
    /// Queues a command; false when the connection is already closed (the callback is then not called).
    /// If it closes before the command is written, the callback gets null. With <paramref name="flush"/> false
    /// (on the event loop only) the command waits for the next flushed one.
    /// </summary>
    public bool TrySend(EslCommand command, Action<EslMessage?>? onReply = null, bool flush = true)
    {
        var ch = _channel;
        if (_closed || ch is null) return false;
        var loop = ch.EventLoop;
        if (loop.InEventLoop) SendOnLoop(ch, command, onReply, flush);
        else loop.Execute(() => SendOnLoop(ch, command, onReply, true));
        return true;
    }

    private void SendOnLoop(IChannel ch, EslCommand command, Action<EslMessage?>? onReply, bool flush)
    {
        if (_closed)
        {
            Safe(onReply, null);
            return;
        }
        _pending.Enqueue(onReply);
        if (flush) ch.WriteAndFlushAsync(command);
        else ch.WriteAsync(command);
    }

    public void Close() => _channel?.CloseAsync();

    public override void ChannelActive(IChannelHandlerContext context)
    {
        _channel = context.Channel;
        base.ChannelActive(context);
        listener.OnActive(this);
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        if (_closed) return;
        _closed = true;
        var failed = _pending.ToArray();
        _pending.Clear();
        foreach (var cb in failed) Safe(cb, null);
        listener.OnClosed(this);
        base.ChannelInactive(context);
    }

    protected override void ChannelRead0(IChannelHandlerContext ctx, EslMessage msg)
    {
        LastFrame = DateTime.UtcNow;
        _frames?.Inc();
        _bytes?.Inc(msg.WireLength);
        switch (msg)
        {
            case EslEvent evt:
                listener.OnEvent(this, evt);
                break;
            case CommandReply or ApiResponse:
                if (_pending.TryDequeue(out var cb)) Safe(cb, msg);
                else listener.OnOther(this, msg);
                break;
            default:
                listener.OnOther(this, msg);
                break;
        }
    }

    private void Safe(Action<EslMessage?>? cb, EslMessage? msg)
    {
        if (cb is null) return;
        try { cb(msg); }
        catch (Exception e)
        {
            // a callback's own bug must not kill the connection
            if (logger is not null) Microsoft.Extensions.Logging.LoggerExtensions.LogError(logger, e, "ESL reply handler failed on {Link}", linkName);
        }
    }

    public override string ToString() => $"{linkName} {Remote}";
}
