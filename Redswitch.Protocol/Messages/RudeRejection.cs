using System.Text;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>Sent to an inbound peer that the ACL refuses, before the goodbye notice.</summary>
public sealed class RudeRejection : EslMessage
{
    private const string Text = "Access Denied, go away.\n";

    internal RudeRejection(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    public static RudeRejection Instance { get; } = (RudeRejection)Create(
        new[] { (HeaderNames.ContentType, ContentTypes.RudeRejection), (HeaderNames.ContentLength, Encoding.UTF8.GetByteCount(Text).ToString()) },
        Encoding.UTF8.GetBytes(Text));
}
