using DotNetty.Buffers;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

/// <summary>Feeds bytes through the real DotNetty decoders in an EmbeddedChannel.</summary>
public static class DecodeHarness
{
    public static List<EslMessage> DecodeFrames(IEnumerable<byte[]> chunks, EslDecoderOptions? options = null) =>
        Decode<EslMessage>(new EslFrameDecoder(options ?? EslDecoderOptions.Default), chunks);

    public static List<EslMessage> DecodeFrames(byte[] bytes) => DecodeFrames(new[] { bytes });

    public static List<EslCommand> DecodeCommands(IEnumerable<byte[]> chunks, EslDecoderOptions? options = null) =>
        Decode<EslCommand>(new EslCommandDecoder(options ?? EslDecoderOptions.Default), chunks);

    public static List<EslCommand> DecodeCommands(byte[] bytes) => DecodeCommands(new[] { bytes });

    /// <summary>Splits <paramref name="bytes"/> at the given ascending offsets.</summary>
    public static IEnumerable<byte[]> Split(byte[] bytes, IEnumerable<int> cuts)
    {
        var last = 0;
        foreach (var cut in cuts)
        {
            yield return bytes[last..cut];
            last = cut;
        }

        yield return bytes[last..];
    }

    private static List<T> Decode<T>(DotNetty.Transport.Channels.IChannelHandler decoder, IEnumerable<byte[]> chunks)
    {
        var channel = new EmbeddedChannel(decoder);
        var result = new List<T>();
        try
        {
            foreach (var chunk in chunks)
            {
                if (chunk.Length == 0)
                {
                    continue;
                }

                channel.WriteInbound(Unpooled.WrappedBuffer(chunk));
                Drain(channel, result);
            }
        }
        finally
        {
            channel.FinishAndReleaseAll();
        }

        Drain(channel, result);
        return result;
    }

    private static void Drain<T>(EmbeddedChannel channel, List<T> result)
    {
        while (channel.ReadInbound<object>() is { } message)
        {
            result.Add((T)message);
        }
    }
}
