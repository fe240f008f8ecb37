using Redswitch.Server.Takeover;

namespace Redswitch.Tests.Redis;

/// <summary>The socket app's host list (SPEC §8.1 "Calls being set up"): addresses from Redis are checked before they reach FreeSWITCH.</summary>
public class SocketHostsTests
{
    [Test]
    public void TheOwnerComesFirstThenAtMostTwoPeers() =>
        Assert.That(SocketHosts.List("10.0.0.1:8084", ["10.0.0.2:8084", "10.0.0.3:8085", "10.0.0.4:8084"]), Is.EqualTo("10.0.0.1:8084|10.0.0.2:8084|10.0.0.3:8085"));

    [Test]
    public void WithoutPeersItIsTheOwnerAlone() => Assert.That(SocketHosts.List("h1:8084", []), Is.EqualTo("h1:8084"));

    [TestCase("h2:8084 async full")]
    [TestCase("h2:8084|h3:1")]
    [TestCase("h2:8084')")]
    [TestCase("h2")]
    [TestCase("h2:")]
    [TestCase("")]
    [TestCase("h2:8084\r\n")]
    public void AnAddressFreeSwitchWouldReadOtherwiseIsLeftOut(string bad)
    {
        Assert.That(SocketHosts.IsAddress(bad), Is.False);
        Assert.That(SocketHosts.List("h1:8084", [bad, "h4:8084"]), Is.EqualTo("h1:8084|h4:8084"));
    }

    [TestCase("fs-peer.example.com:8084")]
    [TestCase("[::1]:8084")]
    [TestCase("127.0.0.1:65535")]
    public void HostNamesAndAddressesArePeers(string good) => Assert.That(SocketHosts.IsAddress(good), Is.True);

    [Test]
    public void ThePeerThatIsTheOwnerIsNotListedTwice() =>
        Assert.That(SocketHosts.List("h1:8084", ["h1:8084", "h2:8084"]), Is.EqualTo("h1:8084|h2:8084"));
}
