namespace Redswitch.Protocol;

/// <summary>Limits the decoders enforce.</summary>
public sealed record EslDecoderOptions
{
    /// <summary>FreeSWITCH's own MAX_CONTENT_LENGTH, and libesl's.</summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    public static EslDecoderOptions Default { get; } = new();

    /// <summary>Largest frame, header block plus body, in bytes.</summary>
    public int MaxFrameBytes { get; init; } = DefaultMaxFrameBytes;
}
