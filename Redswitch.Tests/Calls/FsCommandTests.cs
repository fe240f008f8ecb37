using Redswitch.Calls.FreeSwitch;

namespace Redswitch.Tests.Calls;

/// <summary>The command lines the call logic sends, and what never gets into one (SPEC §6).</summary>
[Parallelizable(ParallelScope.All)]
public class FsCommandTests
{
    private const string Uuid = "7f4de4bc-7a41-4e3a-9a9e-0c3c0e4ac6a1";

    [Test]
    public void EachCommandWritesItsLine()
    {
        Assert.That(new UuidKill(Uuid, "NORMAL_CLEARING").Line, Is.EqualTo($"uuid_kill {Uuid} NORMAL_CLEARING"));
        Assert.That(new UuidExists(Uuid).Line, Is.EqualTo($"uuid_exists {Uuid}"));
        Assert.That(new UuidRecvDtmf(Uuid, "2").Line, Is.EqualTo($"uuid_recv_dtmf {Uuid} 2"));
        Assert.That(new UuidDump(Uuid).Line, Is.EqualTo($"uuid_dump {Uuid}"));
        Assert.That(new Originate("originate {origination_uuid=x}sofia/gateway/p/1555 &park()").Line,
            Is.EqualTo("originate {origination_uuid=x}sofia/gateway/p/1555 &park()"));
        Assert.That(new UuidKill(Uuid, "USER_BUSY").ToString(), Is.EqualTo($"uuid_kill {Uuid} USER_BUSY"));
    }

    [TestCase("")]
    [TestCase("a b")]
    [TestCase("abc\n")]
    [TestCase("abc\r\nevent plain ALL")]
    [TestCase("abc\t")]
    public void AUuidThatWouldSplitTheLineIsRefused(string uuid)
    {
        Assert.Throws<ArgumentException>(() => _ = new UuidKill(uuid, "NORMAL_CLEARING"));
        Assert.Throws<ArgumentException>(() => _ = new UuidExists(uuid));
        Assert.Throws<ArgumentException>(() => _ = new UuidRecvDtmf(uuid, "2"));
        Assert.Throws<ArgumentException>(() => _ = new UuidDump(uuid));
    }

    [TestCase("")]
    [TestCase("NORMAL CLEARING")]
    [TestCase("NORMAL_CLEARING\nexit")]
    public void ACauseThatWouldSplitTheLineIsRefused(string cause) =>
        Assert.Throws<ArgumentException>(() => _ = new UuidKill(Uuid, cause));

    [TestCase("")]
    [TestCase("2 3")]
    [TestCase("x")]
    [TestCase("2\n")]
    public void OnlyDtmfDigitsAreSent(string digits) =>
        Assert.Throws<ArgumentException>(() => _ = new UuidRecvDtmf(Uuid, digits));

    [TestCase("0123456789*#ABCD")]
    public void EveryDtmfDigitIsAccepted(string digits) =>
        Assert.That(new UuidRecvDtmf(Uuid, digits).Line, Does.EndWith(" " + digits));

    [TestCase("bgapi originate x")]
    [TestCase("originate x\nexit")]
    [TestCase("originate x\r")]
    public void AnOriginateIsOneOriginateLine(string text) =>
        Assert.Throws<ArgumentException>(() => _ = new Originate(text));
}
