using System.Text;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>
/// FreeSWITCH is closing the socket (<c>disconnect</c>, or no disposition on an unbound inbound
/// connection), or, with <c>linger</c>, the controlled channel hung up and the socket stays open.
/// </summary>
public sealed class DisconnectNotice : EslMessage
{
    public const string GoodbyeText = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

    private static readonly byte[] GoodbyeBytes = Encoding.UTF8.GetBytes(GoodbyeText);

    internal DisconnectNotice(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    public string? Disposition => Headers[HeaderNames.ContentDisposition];

    /// <summary>The channel is gone but the socket stays; hangup events may still follow.</summary>
    public bool IsLinger => string.Equals(Disposition, "linger", StringComparison.OrdinalIgnoreCase);

    public string? ControlledSessionUuid => Headers[HeaderNames.ControlledSessionUuid];

    /// <summary>Seconds given to <c>linger</c>; -1 means until the client closes.</summary>
    public int? LingerTime => int.TryParse(Headers[HeaderNames.LingerTime], out var seconds) ? seconds : null;

    public string? ChannelName => Headers[HeaderNames.ChannelName];

    public static DisconnectNotice Goodbye(string? controlledSessionUuid = null)
    {
        var builder = new FrameBuilder(160).Header(HeaderNames.ContentType, ContentTypes.DisconnectNotice);
        if (controlledSessionUuid is not null)
        {
            builder.Header(HeaderNames.ControlledSessionUuid, controlledSessionUuid)
                .Header(HeaderNames.ContentDisposition, "disconnect");
        }

        builder.Header(HeaderNames.ContentLength, GoodbyeBytes.Length).EndHeaders().Raw(GoodbyeBytes);
        return (DisconnectNotice)FromFrame(builder.ToArray());
    }

    public static DisconnectNotice Linger(string controlledSessionUuid, string channelName, int lingerTime) =>
        (DisconnectNotice)FromFrame(new FrameBuilder(200)
            .Header(HeaderNames.ContentType, ContentTypes.DisconnectNotice)
            .Header(HeaderNames.ControlledSessionUuid, controlledSessionUuid)
            .Header(HeaderNames.ContentDisposition, "linger")
            .Header(HeaderNames.ChannelName, channelName)
            .Header(HeaderNames.LingerTime, lingerTime)
            .Header(HeaderNames.ContentLength, 0)
            .EndHeaders()
            .ToArray());
}
