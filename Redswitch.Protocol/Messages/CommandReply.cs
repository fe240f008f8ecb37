using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>
/// The reply to every command but <c>api</c>. The outbound <c>connect</c> reply is one too: a
/// URL-encoded CHANNEL_DATA block without Content-Length whose headers are the channel data.
/// </summary>
public sealed class CommandReply : EslMessage
{
    internal CommandReply(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    /// <summary>Decoded; the connect reply's is "+OK\n".</summary>
    public string ReplyText => Headers[HeaderNames.ReplyText] ?? string.Empty;

    /// <summary>As sent; <c>getvar</c> copies values verbatim, so a literal %41 survives only here.</summary>
    public string RawReplyText => Headers.GetRaw(HeaderNames.ReplyText) ?? string.Empty;

    public bool IsOk => ReplyText.StartsWith("+OK", StringComparison.Ordinal);

    public bool IsError => ReplyText.StartsWith("-ERR", StringComparison.Ordinal) || ReplyText.StartsWith("-USAGE", StringComparison.Ordinal);

    public string? JobUuid => Headers[HeaderNames.JobUuid];

    public bool IsConnectReply => Headers.Contains(HeaderNames.SocketMode);

    /// <summary><c>async</c> or <c>static</c> on a connect reply.</summary>
    public string? SocketMode => Headers[HeaderNames.SocketMode];

    /// <summary><c>full</c> or <c>single-channel</c> on a connect reply.</summary>
    public string? Control => Headers[HeaderNames.Control];

    /// <summary>The channel data of a connect reply (the same list as <see cref="EslMessage.Headers"/>).</summary>
    public EslHeaders ChannelData => Headers;

    public string? UniqueId => Headers[HeaderNames.UniqueId];

    /// <summary><c>Content-Type: command/reply</c>, <c>Reply-Text</c>, then any extra headers, all unencoded.</summary>
    public static CommandReply Create(string replyText, params (string Name, string Value)[] extraHeaders)
    {
        var builder = new FrameBuilder(64 + replyText.Length)
            .Header(HeaderNames.ContentType, ContentTypes.CommandReply)
            .Header(HeaderNames.ReplyText, replyText);
        foreach (var (name, value) in extraHeaders)
        {
            builder.Header(name, value);
        }

        return (CommandReply)FromFrame(builder.EndHeaders().ToArray());
    }

    /// <summary>The reply to an outbound <c>connect</c>: the channel data URL-encoded, then the four reply headers.</summary>
    public static CommandReply CreateConnectReply(IEnumerable<KeyValuePair<string, string>> channelData, string socketMode = "async", string control = "full")
    {
        var builder = new FrameBuilder(8192);
        foreach (var (name, value) in channelData)
        {
            if (value.Length > 0)
            {
                builder.Header(name, value, urlEncode: true);
            }
        }

        builder.Header(HeaderNames.ContentType, ContentTypes.CommandReply)
            .Header(HeaderNames.ReplyText, "+OK\n", urlEncode: true)
            .Header(HeaderNames.SocketMode, socketMode, urlEncode: true)
            .Header(HeaderNames.Control, control, urlEncode: true);
        return (CommandReply)FromFrame(builder.EndHeaders().ToArray());
    }
}
