using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>The first frame of an inbound connection: FreeSWITCH asks for <c>auth</c>.</summary>
public sealed class AuthRequest : EslMessage
{
    internal AuthRequest(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    public static AuthRequest Instance { get; } =
        (AuthRequest)Create(new[] { (HeaderNames.ContentType, ContentTypes.AuthRequest) });
}
