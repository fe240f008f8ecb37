using BenchmarkDotNet.Attributes;
using DotNetty.Buffers;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;

namespace Redswitch.Bench.Codec;

/// <summary>Decode, header access and encode over one copy of the captures (about 1.3 MB).</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private byte[] _unit = Array.Empty<byte>();
    private EslEvent _event = null!;
    private List<KeyValuePair<string, string>> _eventHeaders = new();

    [GlobalSetup]
    public void Setup()
    {
        _unit = CorpusCommand.Unit(CorpusCommand.DefaultCaptures());
        var channel = new EmbeddedChannel(new EslFrameDecoder());
        channel.WriteInbound(Unpooled.WrappedBuffer(_unit));
        EslEvent? biggest = null;
        while (channel.ReadInbound<EslMessage>() is { } m)
        {
            if (m is EslEvent { Format: EslEventFormat.Plain } e && (biggest is null || e.WireLength > biggest.WireLength))
            {
                biggest = e;
            }
        }

        _event = biggest!;
        _eventHeaders = _event.EventHeaders.Select(h => KeyValuePair.Create(h.Name, h.Value)).ToList();
    }

    [Benchmark(Description = "split frames (captures, 64 KiB reads)")]
    public int Split() => Decode(materialise: false);

    [Benchmark(Description = "decode + materialise every event header")]
    public int DecodeAll() => Decode(materialise: true);

    [Benchmark(Description = "look up 5 headers in a fresh copy of the largest event")]
    public int HeaderAccess()
    {
        var e = (EslEvent)EslMessage.FromFrame(_event.Wire.ToArray());
        return (e.UniqueId?.Length ?? 0) + (e["Hangup-Cause"]?.Length ?? 0) + (e["variable_dial_id"]?.Length ?? 0)
            + (e["Answer-State"]?.Length ?? 0) + (e.EventName?.Length ?? 0);
    }

    [Benchmark(Description = "encode the largest event (plain)")]
    public int EncodePlain() => EslEvent.Create(EslEventFormat.Plain, _eventHeaders).WireLength;

    [Benchmark(Description = "encode the largest event (json)")]
    public int EncodeJson() => EslEvent.Create(EslEventFormat.Json, _eventHeaders).WireLength;

    [Benchmark(Description = "build sendmsg execute bridge")]
    public int EncodeCommand() => EslCommands.SendMsgExecute(null, "bridge", "{origination_uuid=75ba74a2-257d-4baa-a075-bb98ab9fd833,dial_id=d,call-side=1}sofia/gateway/gw/14157697098").WireLength;

    private int Decode(bool materialise)
    {
        var channel = new EmbeddedChannel(new EslFrameDecoder());
        var count = 0;
        for (var offset = 0; offset < _unit.Length; offset += 65536)
        {
            channel.WriteInbound(Unpooled.WrappedBuffer(_unit, offset, Math.Min(65536, _unit.Length - offset)));
            while (channel.ReadInbound<EslMessage>() is { } m)
            {
                count++;
                if (materialise && m is EslEvent e)
                {
                    foreach (var h in e.EventHeaders)
                    {
                        count += h.Value.Length;
                    }
                }
            }
        }

        channel.FinishAndReleaseAll();
        return count;
    }
}
