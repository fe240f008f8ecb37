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
/// Reply callbacks run on the event loop, in wire order, without any lock of this session held.
/// </summary>
public sealed class EslSession(IEslSessionListener listener, string linkName, Metrics.RedswitchMetrics? metrics, Microsoft.Extensions.Logging.ILogger? logger = null)
    : SimpleChannelInboundHandler<EslMessage>
{
    private readonly object _gate = new();
    private readonly Queue<Action<EslMessage?>?> _pending = new();
    private IChannel? _channel;
    private bool _closed;
    private readonly Prometheus.Counter.Child? _frames = metrics?.EslFrames.WithLabels(linkName);
    private readonly Prometheus.Counter.Child? _bytes = metrics?.EslBytes.WithLabels(linkName);

    /// <summary>Whatever the owner wants to hang on the session (the call owner for outbound sockets).</summary>
    public object? Tag { get; set; }

    public EndPoint? Remote => _channel?.RemoteAddress;

    public bool IsOpen
    {
        get { lock (_gate) return !_closed && _channel is not null; }
    }

    /// <summary>Queues a command; false when the connection is closed (the callback is then not called).</summary>
    public bool TrySend(EslCommand command, Action<EslMessage?>? onReply = null)
    {
        lock (_gate)
        {
            if (_closed || _channel is null) return false;
            _pending.Enqueue(onReply);
            _channel.WriteAndFlushAsync(command);
            return true;
        }
    }

    public void Close()
    {
        IChannel? ch;
        lock (_gate) ch = _channel;
        ch?.CloseAsync();
    }

    public override void ChannelActive(IChannelHandlerContext context)
    {
        lock (_gate) _channel = context.Channel;
        base.ChannelActive(context);
        listener.OnActive(this);
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        List<Action<EslMessage?>?> failed;
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            failed = [.. _pending];
            _pending.Clear();
        }
        foreach (var cb in failed) Safe(cb, null);
        listener.OnClosed(this);
        base.ChannelInactive(context);
    }

    /// <summary>When the last frame arrived (UTC).</summary>
    public DateTime LastFrame { get; private set; } = DateTime.UtcNow;

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
                Action<EslMessage?>? cb = null;
                var had = false;
                lock (_gate)
                {
                    if (_pending.Count > 0) { cb = _pending.Dequeue(); had = true; }
                }
                if (had) Safe(cb, msg);
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
