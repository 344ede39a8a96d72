public enum DeepNN {}
