namespace Redswitch.Protocol;

/// <summary>The framing faults that make a connection's byte stream untrustworthy.</summary>
public enum EslCodecError
{
    /// <summary>A frame (header block plus body) is larger than the configured limit.</summary>
    FrameTooLarge,

    /// <summary>A header block did not end (empty line) within the configured limit.</summary>
    HeaderBlockTooLarge,

    /// <summary><c>Content-Length</c> is not a non-negative decimal number.</summary>
    BadContentLength,

    /// <summary>An outer header line has no <c>:</c>.</summary>
    HeaderLineWithoutColon,
}
