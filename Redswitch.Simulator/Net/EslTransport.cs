using DotNetty.Transport.Channels;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator.Core;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Net;

/// <summary>Writes ESL frames (Redswitch.Protocol messages) to a DotNetty channel, in call order.</summary>
internal sealed class EslTransport : IEslTransport
{
    private readonly IChannel _channel;

    public EslTransport(IChannel channel)
    {
        _channel = channel;
        Peer = channel.RemoteAddress?.ToString() ?? "?";
    }

    public string Peer { get; }

    private void Write(EslMessage m)
    {
        if (_channel.Active) _channel.WriteAndFlushAsync(m).ContinueWith(static _ => { }, TaskContinuationOptions.OnlyOnFaulted);
    }

    public void AuthRequest() => Write(Redswitch.Protocol.Messages.AuthRequest.Instance);

    public void Reply(string text, IReadOnlyList<KeyValuePair<string, string>>? extraHeaders = null) =>
        Write(CommandReply.Create(text, extraHeaders?.Select(h => (h.Key, h.Value)).ToArray() ?? []));

    public void Api(string body) => Write(ApiResponse.Create(body));

    public void Event(SimEvent ev, EventFormat format) => Write(Serialize(ev, format));

    /// <summary>The wire form of an event, built once per format and shared by every connection.</summary>
    internal static EslMessage Serialize(SimEvent ev, EventFormat format) => format switch
    {
        EventFormat.Json => (EslMessage)(ev.JsonCache ??= EslEvent.Create(EslEventFormat.Json, ev.Headers, ev.Body)),
        EventFormat.Xml => (EslMessage)(ev.XmlCache ??= XmlEvent(ev)),
        _ => (EslMessage)(ev.PlainCache ??= EslEvent.Create(EslEventFormat.Plain, ev.Headers, ev.Body)),
    };

    /// <summary>
    /// text/event-xml as switch_event_xmlize writes it (Redswitch.Protocol cannot build XML events): &lt;event&gt;,
    /// &lt;headers&gt; with one element per header (value URL-encoded, then XML-escaped), then the body if any.
    /// </summary>
    internal static EslMessage XmlEvent(SimEvent ev)
    {
        var sb = new System.Text.StringBuilder(4096);
        sb.Append("<event>\n  <headers>\n");
        foreach (var (name, value) in ev.Headers)
        {
            if (value.Length == 0) continue;
            sb.Append("    <").Append(name).Append('>')
              .Append(System.Security.SecurityElement.Escape(Redswitch.Protocol.Headers.EslUrlEncoding.Encode(value)))
              .Append("</").Append(name).Append(">\n");
        }
        sb.Append("  </headers>\n");
        if (!string.IsNullOrEmpty(ev.Body))
        {
            var len = System.Text.Encoding.UTF8.GetByteCount(ev.Body);
            sb.Append("  <Content-Length>").Append(len).Append("</Content-Length>\n");
            sb.Append("  <body>").Append(System.Security.SecurityElement.Escape(ev.Body)).Append("</body>\n");
        }
        sb.Append("</event>\n");
        var bytes = System.Text.Encoding.UTF8.GetBytes(sb.ToString());
        return EslMessage.Create(
            [("Content-Length", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("Content-Type", "text/event-xml")],
            bytes);
    }

    public void ConnectReply(List<KeyValuePair<string, string>> channelData, string socketMode, string control) =>
        Write(CommandReply.CreateConnectReply(channelData, socketMode, control));

    public void Goodbye(string? boundUuid) => Write(DisconnectNotice.Goodbye(boundUuid));

    public void Linger(string uuid, string channelName, int lingerTime) => Write(DisconnectNotice.Linger(uuid, channelName, lingerTime));

    public void Close()
    {
        if (_channel.Open) _channel.CloseAsync().ContinueWith(static _ => { }, TaskContinuationOptions.OnlyOnFaulted);
    }
}

/// <summary>Feeds decoded commands of one connection to its session on the core thread.</summary>
internal sealed class EslSessionHandler : ChannelHandlerAdapter
{
    private readonly SimSwitch _sw;
    private readonly Func<EslTransport, EslSession?>? _onActive;
    private EslSession? _session;
    private List<EslRequest>? _early;

    /// <param name="onActive">Inbound: creates the session when the connection opens (core thread).</param>
    public EslSessionHandler(SimSwitch sw, Func<EslTransport, EslSession?>? onActive)
    {
        _sw = sw;
        _onActive = onActive;
    }

    /// <summary>Outbound: attaches the session once created (core thread).</summary>
    internal void Attach(EslSession s)
    {
        _session = s;
        if (_early != null)
        {
            foreach (var r in _early) s.Receive(r);
            _early = null;
        }
    }

    public override void ChannelActive(IChannelHandlerContext context)
    {
        if (_onActive != null)
        {
            var t = new EslTransport(context.Channel);
            _sw.Post(() => _session = _onActive(t));
        }
        base.ChannelActive(context);
    }

    public override void ChannelRead(IChannelHandlerContext context, object message)
    {
        if (message is not EslCommand cmd) return;
        var headers = new List<KeyValuePair<string, string>>(cmd.Headers.Count);
        for (int i = 0; i < cmd.Headers.Count; i++)
            headers.Add(new(cmd.Headers.GetName(i), cmd.Headers.GetRawValue(i)));
        var req = new EslRequest(cmd.Line, headers, cmd.Body.Length > 0 ? cmd.BodyText : null);
        _sw.Post(() =>
        {
            if (_session != null) _session.Receive(req);
            else (_early ??= new()).Add(req);
        });
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        _sw.Post(() => _session?.OnTransportClosed());
        base.ChannelInactive(context);
    }

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) =>
        context.FireExceptionCaught(exception);
}
