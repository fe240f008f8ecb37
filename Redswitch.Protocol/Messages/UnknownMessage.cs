using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>A well-framed message of a content type this codec does not model.</summary>
public sealed class UnknownMessage : EslMessage
{
    internal UnknownMessage(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }
}
