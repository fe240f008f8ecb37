using DotNetty.Codecs;

namespace Redswitch.Protocol;

/// <summary>
/// Raised by the decoders only for framing that cannot be trusted; the connection must be closed.
/// Derives from <see cref="DecoderException"/> so DotNetty passes it to ExceptionCaught unwrapped.
/// </summary>
public sealed class EslCodecException : DecoderException
{
    public EslCodecException(EslCodecError error, string message)
        : base(message)
    {
        Error = error;
    }

    public EslCodecError Error { get; }
}
