"""Text classification with jieba and scikit-learn: segmentation, estimators, model files with model cards."""
