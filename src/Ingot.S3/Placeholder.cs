namespace Ingot.S3; internal static class Placeholder { }
