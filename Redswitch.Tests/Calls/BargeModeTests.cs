using Redswitch.Calls;

namespace Redswitch.Tests.Calls;

public class BargeModeTests
{
    [Test]
    public void UnthreewayReturnsToTheModeBeforeThreeway()
    {
        var m = new BargeMode();
        m.Accepted(m.Plan(2)!);
        m.Accepted(m.Plan(3)!);
        var back = m.Plan(-1)!;
        Assert.That(back.Digit, Is.EqualTo(2));
        m.Accepted(back);
        Assert.That(m.Intended, Is.EqualTo(2));
        Assert.That(m.Plan(-1), Is.Null, "not in threeway any more");
    }

    [Test]
    public void ARefusedChangeIsTakenOutOfTheChangesBehindIt()
    {
        var m = new BargeMode();
        var whisper = m.Plan(2)!;
        var threeway = m.Plan(3)!;
        Assert.That(m.IntendedBeforeThreeway, Is.EqualTo(2), "as planned");
        m.Refused(whisper);
        Assert.That((m.Intended, m.IntendedBeforeThreeway), Is.EqualTo((3, 0)));
        m.Accepted(threeway);
        Assert.That(m.Plan(-1)!.Digit, Is.EqualTo(0));
    }

    [Test]
    public void AnUnthreewayNotSentYetFollowsARefusalAheadOfIt()
    {
        // whisper, threeway, unthreeway queued (the barger still rings); whisper is refused: unthreeway must not
        // send the whisper digit FreeSWITCH never took
        var m = new BargeMode();
        var whisper = m.Plan(2)!;
        var threeway = m.Plan(3)!;
        var back = m.Plan(-1)!;
        Assert.That(back.Digit, Is.EqualTo(2), "as planned");
        m.Refused(whisper);
        Assert.That(m.Send(threeway), Is.EqualTo(3));
        Assert.That(m.Send(back), Is.EqualTo(0));
        m.Accepted(threeway);
        m.Accepted(back);
        Assert.That(m.Intended, Is.EqualTo(0));
    }

    [Test]
    public void ASentDigitStaysWhatWasSent()
    {
        var m = new BargeMode();
        var whisper = m.Plan(2)!;
        var threeway = m.Plan(3)!;
        var back = m.Plan(-1)!;
        Assert.That(m.Send(back), Is.EqualTo(2));
        m.Refused(whisper);
        Assert.That(back.Digit, Is.EqualTo(2), "FreeSWITCH got 2: the record says so");
        m.Accepted(threeway);
        m.Accepted(back);
        Assert.That(m.Intended, Is.EqualTo(2));
    }

    [Test]
    public void TwoRefusalsLeaveTheConfirmedMode()
    {
        var m = new BargeMode();
        m.Accepted(m.Plan(2)!);
        var a = m.Plan(0)!;
        var b = m.Plan(3)!;
        m.Refused(b);
        m.Refused(a);
        Assert.That(m.Intended, Is.EqualTo(2));
        Assert.That(m.InFlight, Is.Zero);
    }

    [Test]
    public void KeypadDigitsCountAndChangesInFlightApplyOnTop()
    {
        var m = new BargeMode();
        var threeway = m.Plan(3)!;
        m.Pressed(2); // the barger whispers from the phone while our threeway is in flight
        Assert.That((m.Intended, m.IntendedBeforeThreeway), Is.EqualTo((3, 2)));
        m.Accepted(threeway);
        Assert.That(m.Plan(-1)!.Digit, Is.EqualTo(2));
        m.Pressed(9);
        m.Pressed(-1);
        Assert.That(m.Intended, Is.EqualTo(2), "digits outside 0-3 are not modes");
    }

    [Test]
    public void ResetStartsMuted()
    {
        var m = new BargeMode();
        m.Accepted(m.Plan(3)!);
        m.Plan(2);
        m.Reset();
        Assert.That((m.Intended, m.InFlight), Is.EqualTo((0, 0)));
        Assert.That(m.Plan(-1), Is.Null);
    }
}
