using Redswitch.Protocol;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

public class XmlEventTests
{
    [Test]
    public void AnXmlEventRoundTripsThroughTheDecoder()
    {
        var built = EslEvent.Create(
            EslEventFormat.Xml,
            new[]
            {
                KeyValuePair.Create("Event-Name", "CHANNEL_ANSWER"),
                KeyValuePair.Create("Unique-ID", "u-1"),
                KeyValuePair.Create("Caller-Caller-ID-Name", "José <Müller> & co"),
                KeyValuePair.Create("variable_list", "ARRAY::a|:b"),
            },
            "body <1>\n");

        var decoded = (EslEvent)DecodeHarness.DecodeFrames(built.Wire.ToArray()).Single();

        Assert.That(decoded.ContentType, Is.EqualTo("text/event-xml"));
        Assert.That(decoded.Format, Is.EqualTo(EslEventFormat.Xml));
        Assert.That(decoded.EventName, Is.EqualTo("CHANNEL_ANSWER"));
        Assert.That(decoded["Caller-Caller-ID-Name"], Is.EqualTo("José <Müller> & co"));
        Assert.That(decoded.EventHeaders.GetAll("variable_list"), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(decoded.EventBodyText, Is.EqualTo("body <1>\n"));
        Assert.That(decoded.BodyText, Does.Contain("<Caller-Caller-ID-Name>Jos%C3%A9%20%3CM%C3%BCller%3E%20%26%20co</Caller-Caller-ID-Name>"));
    }
}
