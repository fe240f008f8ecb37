using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

public class CaptureDecodeTests
{
    public static IEnumerable<string> CaptureNames => Capture.Names;

    [TestCaseSource(nameof(CaptureNames))]
    public void EveryFreeSwitchByteIsConsumedIntoFrames(string name)
    {
        foreach (var (conn, bytes) in Capture.Streams(name, "fs"))
        {
            var messages = DecodeHarness.DecodeFrames(bytes);
            Assert.That(messages.Sum(m => m.WireLength), Is.EqualTo(bytes.Length), $"{name}/{conn}");
            Assert.That(messages, Has.None.TypeOf<UnknownMessage>(), $"{name}/{conn}");
        }
    }
}
