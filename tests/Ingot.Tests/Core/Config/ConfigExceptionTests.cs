using Ingot.Config;

namespace Ingot.Tests.Core.Config;

public sealed class ConfigExceptionTests
{
    [Fact]
    public void Ctor_WithPosition_FormatsFileLineColumnMessage()
    {
        // Given / When
        var e = new ConfigException("p.yaml", 12, 7, "http.concurency: unknown key");

        // Then
        e.Message.ShouldBe("p.yaml:12:7: http.concurency: unknown key");
        e.File.ShouldBe("p.yaml");
        e.Line.ShouldBe(12);
        e.Column.ShouldBe(7);
        e.Detail.ShouldBe("http.concurency: unknown key");
    }

    [Fact]
    public void Ctor_MessageOnly_HasNoPosition()
    {
        // Given / When
        var e = new ConfigException("x.yaml: file not found");

        // Then
        e.Message.ShouldBe("x.yaml: file not found");
        e.File.ShouldBeNull();
        e.Detail.ShouldBeNull();
        (e.Line, e.Column).ShouldBe((0L, 0L));
    }
}
